"""Customer import: rows/s against a raw bulk insert of the same rows (goal ≥ 0.5×), and the peak memory
of a 10^6-row professionals import (goal < 300 MB).

    pharmacrm bench customers                          # 10^6 professionals, SQLite
    pharmacrm bench customers -o rows=100000           # a quicker run
    PHARMACRM_BENCH_DATABASE_URL=postgres://…/bench pharmacrm bench customers   # PostgreSQL

Everything happens in its own database (SQLite: var/bench/customers/*.sqlite3; PostgreSQL:
<name>_import), rebuilt for every measurement from a seeded copy so the runs do not see each
other's rows:

1. seed: 10^4 hospitals and 10 departments each, imported through the importer (also timed);
2. the professionals file: N rows of CSV (external id, name, gender, title, role, institution,
   department, mobile, potential, stage, influence), generated once with a fixed seed;
3. raw: the same rows read with csv.reader and inserted with cursor.executemany in one
   transaction — every NOT NULL column filled, nothing else (no checks, no history, no pinyin,
   no search index, no segments);
4. import: `pharmacrm import professionals FILE` in a child process, exactly as a user runs it
   (every check, history rows, pinyin, search keys, segments with explanations, profile quality,
   primary affiliations); wall time and the child's own peak RSS (ru_maxrss, through
   `benchmarks.run_child`, so this process's peak is not counted);
5. again: the same command on the same file once more (every row unchanged: nothing written);
6. dry run: `--dry-run` on a fresh copy (checks only);
7. the output floor: every row the import wrote (found by comparing each table with the seed),
   read back from the imported database and inserted raw into a fresh seeded copy with one
   executemany per 5,000 rows per table, in one transaction. It is what writing the import's
   output costs the database with no Python in between: the import's audit rows, primary
   affiliations, segments and search keys included. import ÷ floor is the pipeline's own overhead;
   import ÷ raw (step 3) compares with writing the professional rows alone.

The search latency figures live in bench/customers_search.py (`pharmacrm bench customers_search`);
`-o search=1` runs it after the import figures so one command prints everything issue 4 asks for.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from pharmacrm.core.imports.engine import run_import
from pharmacrm.core.imports.registry import get_kind
from pharmacrm.customers.models import Department, Institution, Professional
from pharmacrm.ops import benchmarks

# Its own databases, seeded by the importer itself: the demo data is not needed.
NEEDS_DEMO_DATABASE = False
ROWS = 1_000_000
INSTITUTIONS = 10_000
DEPARTMENTS = (
    "心内科",
    "内分泌科",
    "呼吸科",
    "消化科",
    "神经内科",
    "肿瘤科",
    "儿科",
    "妇产科",
    "药剂科",
    "急诊科",
)
GOAL_RATIO, GOAL_MB = 0.5, 300

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志斌浩宇晨欣怡佳慧婷雪琳颖博文彬凯丹俊峰海燕亮飞鑫"
PROFESSIONAL_HEADER = [
    "外部编码", "姓名", "性别", "职称", "角色", "机构外部编码", "科室", "手机",
    "处方潜力", "合作阶段", "科室决策影响力", "处方影响力", "学术影响力",
]  # fmt: skip
GENDERS, TITLES = ("男", "女"), ("主任医师", "副主任医师", "主治医师", "住院医师")
ROLES = ("临床医生",) * 6 + ("科室主任", "护士长", "药剂科主任", "采购")
POTENTIALS, STAGES = ("高", "中", "初接触"), ("新开发", "稳定合作", "潜力提升", "需激活")


# --- Files and databases ------------------------------------------------------------------------------


def workdir() -> Path:
    folder = Path(settings.VAR_DIR) / "customers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def professionals_file(rows: int) -> Path:
    """N professionals as CSV, written once (streamed) and reused."""
    path = workdir() / f"professionals-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(4)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PROFESSIONAL_HEADER)
        for i in range(1, rows + 1):
            given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            writer.writerow(
                [
                    f"D{i:07d}",
                    rng.choice(SURNAMES) + given,
                    rng.choice(GENDERS),
                    rng.choice(TITLES),
                    rng.choice(ROLES),
                    f"H{rng.randint(1, INSTITUTIONS):05d}",
                    rng.choice(DEPARTMENTS),
                    f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}",
                    rng.choice(POTENTIALS),
                    rng.choice(STAGES),
                    rng.randint(1, 5),
                    rng.randint(1, 5),
                    rng.randint(1, 5),
                ]
            )
    tmp.replace(path)
    return path


def institutions_files() -> tuple[Path, Path]:
    rng = random.Random(7)
    cities = [
        ("湖南省", "长沙市"),
        ("北京市", "北京市"),
        ("广东省", "广州市"),
        ("四川省", "成都市"),
        ("上海市", "上海市"),
    ]
    inst = workdir() / "institutions.csv"
    dept = workdir() / "departments.csv"
    with inst.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["外部编码", "名称", "类型", "等级", "省", "市", "床位数"])
        for i in range(1, INSTITUTIONS + 1):
            province, city = rng.choice(cities)
            writer.writerow(
                [
                    f"H{i:05d}",
                    f"{city}第{i}人民医院",
                    "医院",
                    rng.choice(["三级甲等", "二级甲等"]),
                    province,
                    city,
                    rng.randint(100, 3000),
                ]
            )
    with dept.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["机构外部编码", "科室名称"])
        for i in range(1, INSTITUTIONS + 1):
            for name in DEPARTMENTS:
                writer.writerow([f"H{i:05d}", name])
    return inst, dept


class Database:
    """The benchmark's own database, and a seeded snapshot every measurement starts from."""

    def __init__(self) -> None:
        self.sqlite = connection.vendor == "sqlite"
        params = connection.settings_dict
        if self.sqlite:
            self.path = workdir() / "import.sqlite3"
            self.seed_path = workdir() / "seed.sqlite3"
            self.output_path = workdir() / "output.sqlite3"
        else:
            base = params.setdefault("_BENCH_BASE_NAME", params["NAME"])
            self.name = f"{base}_import"
            self.seed_name = f"{base}_import_seed"
            self.output_name = f"{base}_import_output"

    def url(self) -> str:
        if self.sqlite:
            return f"sqlite:///{self.path}"
        p = connection.settings_dict
        auth = p["USER"] + (f":{p['PASSWORD']}" if p.get("PASSWORD") else "")
        return f"postgres://{auth}@{p['HOST'] or '127.0.0.1'}:{p['PORT'] or 5432}/{self.name}"

    def _use(self, name: str) -> None:
        connection.close()
        connection.settings_dict["NAME"] = name

    def _pg(self, sql: str) -> None:
        connection.close()
        connection.settings_dict["NAME"] = "postgres"
        with connection.cursor() as cursor:
            cursor.execute(sql)
        connection.close()

    def seed(self, out: Any) -> None:
        """Migrate an empty database, import the institutions and departments, keep it as the seed."""
        if self.sqlite:
            for path in (self.path, self.seed_path):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            self._use(str(self.path))
        else:
            for name in (self.name, self.seed_name):
                self._pg(f'DROP DATABASE IF EXISTS "{name}"')
            self._pg(f'CREATE DATABASE "{self.name}"')
            self._use(self.name)
        call_command("migrate", verbosity=0, interactive=False)
        inst, dept = institutions_files()
        for kind, path in (("institutions", inst), ("departments", dept)):
            started = time.perf_counter()
            with path.open("rb") as handle:
                report = run_import(get_kind(kind), handle)
            seconds = time.perf_counter() - started
            assert report.ok, list(report.lines())[:5]
            out(
                f"  seed: {report.rows:,} {kind} imported in {seconds:.1f} s ({report.rows / seconds:,.0f} rows/s)"
            )
        connection.close()
        if self.sqlite:
            _checkpoint(self.path)
            shutil.copyfile(self.path, self.seed_path)
        else:
            self._pg(f'CREATE DATABASE "{self.seed_name}" TEMPLATE "{self.name}"')

    def keep_output(self) -> None:
        """Keep a copy of the database as the import left it (read by output_floor)."""
        connection.close()
        if self.sqlite:
            _checkpoint(self.path)
            shutil.copyfile(self.path, self.output_path)
        else:
            self._pg(f'DROP DATABASE IF EXISTS "{self.output_name}"')
            self._pg(f'CREATE DATABASE "{self.output_name}" TEMPLATE "{self.name}"')
        self._use(str(self.path) if self.sqlite else self.name)

    def _connect(self, name: str) -> Any:
        if self.sqlite:
            import sqlite3

            return sqlite3.connect(name)
        import psycopg

        p = connection.settings_dict
        return psycopg.connect(
            dbname=name, user=p["USER"], password=p.get("PASSWORD") or None,
            host=p["HOST"] or "127.0.0.1", port=p["PORT"] or 5432,
        )  # fmt: skip

    def output_connection(self) -> Any:
        return self._connect(str(self.output_path) if self.sqlite else self.output_name)

    def reset(self) -> None:
        """Back to the seeded state."""
        connection.close()
        if self.sqlite:
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.seed_path, self.path)
            self._use(str(self.path))
        else:
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}"')
            self._pg(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.seed_name}"')
            self._use(self.name)


def output_floor(db: Database) -> tuple[float, dict[str, tuple[int, float]]]:
    """Insert every row the import wrote into a fresh seeded copy, raw: (seconds, {table: (rows, seconds)})."""
    db.reset()
    source = db.output_connection()
    qn = connection.ops.quote_name
    tables = [t for t in connection.introspection.table_names() if not t.startswith("sqlite_")]
    per_table: dict[str, tuple[int, float]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            pk = connection.introspection.get_primary_key_column(cursor, table)
            if pk is None:
                continue
            # The connection is a fresh seed copy, and each table is read before rows go into it.
            cursor.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")
            top = cursor.fetchone()[0]
            read = source.cursor()
            read.execute(f"SELECT * FROM {qn(table)} WHERE {qn(pk)} > {int(top)} ORDER BY {qn(pk)}")
            columns = ", ".join(qn(d[0]) for d in read.description)
            sql = f"INSERT INTO {qn(table)} ({columns}) VALUES ({', '.join(['%s'] * len(read.description))})"
            count, spent = 0, 0.0
            while batch := read.fetchmany(5000):
                started = time.perf_counter()
                cursor.executemany(sql, batch)
                spent += time.perf_counter() - started
                count += len(batch)
            if count:
                per_table[table] = (count, spent)
        commit_started = time.perf_counter()
    commit = time.perf_counter() - commit_started
    source.close()
    return sum(s for _n, s in per_table.values()) + commit, per_table


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so that a plain file copy is the whole database."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


# --- Measurements ----------------------------------------------------------------------------------


def raw_insert(path: Path) -> tuple[int, float]:
    """The floor: read the CSV, map references with dicts, executemany every row in one transaction."""
    institutions = dict(Institution.objects.values_list("external_id", "pk"))
    departments = {(i, n): pk for pk, i, n in Department.objects.values_list("pk", "institution_id", "name")}
    codes = {
        "gender": {"男": "male", "女": "female"},
        "title": {"主任医师": "chief", "副主任医师": "associate_chief", "主治医师": "attending", "住院医师": "resident"},
        "role": {"临床医生": "physician", "科室主任": "department_head", "护士长": "head_nurse", "药剂科主任": "pharmacy_director", "采购": "procurement"},
        "prescribing_potential": {"高": "high", "中": "medium", "初接触": "initial"},
        "engagement_stage": {"新开发": "new", "稳定合作": "stable", "潜力提升": "growth", "需激活": "reactivation"},
    }  # fmt: skip
    fields = [f for f in Professional._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(Professional._meta.db_table)} ({columns}) VALUES ({placeholders})"
    now = timezone.now()
    defaults = {}
    for f in fields:
        value = f.get_default() if f.has_default() else ("" if not f.null else None)
        defaults[f.attname] = json.dumps(value) if f.get_internal_type() == "JSONField" else value
    defaults["created_at"] = defaults["updated_at"] = now
    started = time.perf_counter()
    count = 0
    with (
        path.open(encoding="utf-8", newline="") as handle,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        reader = csv.reader(handle)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        for ext, name, gender, title, role, inst, dept, mobile, potential, stage, d, p, a in reader:
            inst_id = institutions[inst]
            row = dict(defaults)
            row.update(
                external_id=ext, name=name, gender=codes["gender"][gender], title=codes["title"][title],
                role=codes["role"][role], institution_id=inst_id, department_id=departments[(inst_id, dept)],
                mobile=mobile, prescribing_potential=codes["prescribing_potential"][potential],
                engagement_stage=codes["engagement_stage"][stage], influence_decision=int(d),
                influence_prescribing=int(p), influence_academic=int(a),
            )  # fmt: skip
            batch.append(tuple(row[f.attname] for f in fields))
            if len(batch) == 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count, time.perf_counter() - started


def cli_import(db: Database, path: Path, *extra: str) -> tuple[float, float, str]:
    """`pharmacrm import professionals FILE` in a child process: (seconds, its peak RSS in MB, summary)."""
    connection.close()
    env = dict(os.environ)
    env["DATABASE_URL"] = db.url()
    log = workdir() / "import.log"
    argv = [sys.executable, "-m", "pharmacrm", "import", "professionals", str(path), *extra]
    with log.open("w") as handle:
        # its own peak, not this process's (see benchmarks.run_child)
        child = benchmarks.run_child(argv, env=env, output=handle)
    output = log.read_text()
    if child.code:
        raise RuntimeError(f"import failed ({child.code}): {output[-3000:]}")
    return child.seconds, child.peak_mb, output.strip().splitlines()[0]


def measure_import(rows: int, out: Any) -> dict[str, Any]:
    db = Database()
    out(f"Database: {connection.vendor}; preparing {INSTITUTIONS:,} institutions …")
    db.seed(out)
    path = professionals_file(rows)
    out(f"File: {path} ({path.stat().st_size / 1024 / 1024:.0f} MB, {rows:,} rows)")
    figures: dict[str, Any] = {"rows": rows, "vendor": connection.vendor}

    db.reset()
    count, seconds = raw_insert(path)
    figures["raw_rows_per_s"] = count / seconds
    out(f"  raw executemany insert:  {count:,} rows in {seconds:6.1f} s  = {count / seconds:9,.0f} rows/s")

    db.reset()
    seconds, peak_mb, line = cli_import(db, path)
    figures.update(import_rows_per_s=rows / seconds, import_seconds=seconds, peak_mb=peak_mb)
    out(
        f"  pharmacrm import:        {rows:,} rows in {seconds:6.1f} s  = {rows / seconds:9,.0f} rows/s   peak RSS {peak_mb:,.0f} MB"
    )
    out(f"    {line}")
    connection.settings_dict["NAME"] = str(db.path) if db.sqlite else db.name
    figures["written"] = {
        "professionals": Professional.objects.count(),
        "history": Professional.history.count(),
    }
    db.keep_output()
    seconds, _peak, line = cli_import(db, path)
    figures["again_rows_per_s"] = rows / seconds
    out(
        f"  same file again:         {rows:,} rows in {seconds:6.1f} s  = {rows / seconds:9,.0f} rows/s   ({line})"
    )

    db.reset()
    seconds, peak_mb, _line = cli_import(db, path, "--dry-run")
    figures["dry_run_rows_per_s"] = rows / seconds
    out(
        f"  dry run (checks only):   {rows:,} rows in {seconds:6.1f} s  = {rows / seconds:9,.0f} rows/s   peak RSS {peak_mb:,.0f} MB"
    )

    floor_seconds, per_table = output_floor(db)
    figures["floor_seconds"] = floor_seconds
    figures["floor_tables"] = per_table
    written = sum(n for n, _s in per_table.values())
    out(
        f"  output floor:            {written:,} rows in {floor_seconds:6.1f} s  (every row the import wrote, raw executemany)"
    )
    for table, (n, seconds) in sorted(per_table.items(), key=lambda kv: -kv[1][1]):
        out(f"    {table:40} {n:10,} rows {seconds:7.2f} s")

    ratio = figures["import_rows_per_s"] / figures["raw_rows_per_s"]
    figures["ratio"] = ratio
    figures["ratio_to_floor"] = floor_seconds / figures["import_seconds"]
    out(
        f"Floor / raw: {floor_seconds / (rows / figures['raw_rows_per_s']):.1f}× the raw insert's time, so import / raw"
        f" cannot exceed {(rows / figures['raw_rows_per_s']) / floor_seconds:.2f}× while the import writes these rows;"
        f" import / floor: {figures['ratio_to_floor']:.2f}× (the pipeline's own overhead)"
    )
    out(
        f"Import / raw insert: {ratio:.2f}× (goal ≥ {GOAL_RATIO}×) {'ok' if ratio >= GOAL_RATIO else 'MISSED'};"
        f" peak memory {figures['peak_mb']:,.0f} MB (goal < {GOAL_MB} MB) {'ok' if figures['peak_mb'] < GOAL_MB else 'MISSED'}"
    )
    return figures


def run(*, ctx: Any) -> None:
    rows = int(ctx.options.get("rows", ROWS))
    started = dt.datetime.now()
    ctx.out(f"Customer import benchmark ({rows:,} professionals), started {started:%Y-%m-%d %H:%M}")
    figures = {"import": measure_import(rows, ctx.out)}
    if ctx.options.get("search") and (Path(__file__).parent / "customers_search.py").exists():
        benchmarks.load("customers_search").run(ctx=ctx)
    ctx.out("JSON " + json.dumps(figures, ensure_ascii=False))
