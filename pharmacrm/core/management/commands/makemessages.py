"""Django's makemessages, also reading `_l(...)`: the project's alias for gettext_lazy beside `_`.

xgettext knows `_` and the gettext names but not `_l`, so without this `make messages` dropped
every string marked only with `_l` (form labels, table headers) from the catalogues.
"""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_l"]
