"""How big each demo scale is: which cities, how many institutions, professionals and reps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Knobs for one scale. Counts per city are multiplied by the city's weight (capitals count more)."""

    name: str
    # Province codes covered; empty = every mainland province.
    provinces: tuple[str, ...]
    # Cities (4-digit codes) whose real hospitals are used; empty = every city in the data file.
    real_cities: tuple[str, ...]
    # At most this many real institutions per city; 0 = all of them.
    real_per_city: int
    # Cities without real data that still get generated institutions: "none", "capitals" or "all".
    extra_cities: str
    hospitals_per_city: int  # generated, on top of the real ones, up to this many hospitals per city
    pharmacies_per_city: int
    clinics_per_city: int
    retailers_per_city: int
    distributors_per_province: int
    professionals: int  # target total; each institution gets a share by its kind and grade
    reps: int  # rep territories (one current rep each)
    reps_per_team: int
    teams_per_district: int  # a province with more teams is split into several districts
    history: bool  # write simple-history rows (affordable only for the small scales)
    batch_size: int
    # A past year of visits with their follow-ups and the next two weeks' plan (small scales only);
    # `visit_volume` scales how much of the frequency rules' visits the reps made.
    visits: bool = False
    visit_volume: float = 1.0
    # Customers per demo distributor in its 24 months of flow files (ops/demo/flow.py).
    flow_customers: int = 30


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny",
        provinces=("11", "31"),
        real_cities=("1101", "3101"),
        real_per_city=8,
        extra_cities="none",
        hospitals_per_city=0,
        pharmacies_per_city=3,
        clinics_per_city=2,
        retailers_per_city=1,
        distributors_per_province=1,
        professionals=200,
        reps=5,
        reps_per_team=5,
        teams_per_district=4,
        history=True,
        batch_size=500,
        visits=True,
        flow_customers=10,
    ),
    "small": Scale(
        name="small",
        provinces=(),
        real_cities=(),
        real_per_city=0,
        extra_cities="capitals",
        hospitals_per_city=8,
        pharmacies_per_city=12,
        clinics_per_city=4,
        retailers_per_city=1,
        distributors_per_province=2,
        professionals=25_000,
        reps=300,
        reps_per_team=10,
        teams_per_district=6,
        history=True,
        batch_size=2_000,
        # Three quarters of the rules' visits (about five a working day per rep, ~330k a year)
        # keeps `make demo` within about a minute and a half on two cores; the full rate is ~450k.
        visits=True,
        visit_volume=0.75,
    ),
    "medium": Scale(
        name="medium",
        provinces=(),
        real_cities=(),
        real_per_city=0,
        extra_cities="all",
        hospitals_per_city=10,
        pharmacies_per_city=8,
        clinics_per_city=5,
        retailers_per_city=2,
        distributors_per_province=3,
        professionals=100_000,
        reps=1_000,
        reps_per_team=8,
        teams_per_district=6,
        history=False,
        batch_size=5_000,
    ),
    "large": Scale(
        name="large",
        provinces=(),
        real_cities=(),
        real_per_city=0,
        extra_cities="all",
        hospitals_per_city=40,
        pharmacies_per_city=40,
        clinics_per_city=30,
        retailers_per_city=4,
        distributors_per_province=5,
        professionals=1_000_000,
        reps=3_000,
        reps_per_team=8,
        teams_per_district=6,
        history=False,
        batch_size=5_000,
    ),
}
