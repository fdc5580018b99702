"""Core: organisation, users and roles, visibility scope, audit trail, shared base classes."""

from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "pharmacrm.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        from pharmacrm.core import audit, visibility
        from pharmacrm.core.models import (
            ApiToken,
            Division,
            ExportLog,
            ImportJob,
            OrgUnit,
            Territory,
            TerritoryAssignment,
            User,
        )

        audit.connect()
        visibility.register(Division, public=True)
        visibility.register(OrgUnit, org_unit="")
        visibility.register(User, owner="")
        visibility.register(Territory, territory="")
        visibility.register(TerritoryAssignment, territory="territory", owner="user")
        visibility.register(ApiToken, owner="user")
        # Import jobs and export records: their owner and the company-wide roles (compliance reads
        # every export). Managers get no subtree view of them: these are not customer data.
        visibility.register(ImportJob, custom=lambda scope: Q(created_by_id=scope.user_id))
        visibility.register(ExportLog, custom=lambda scope: Q(user_id=scope.user_id))

        from pharmacrm.core import schedule, tasks

        schedule.register(
            "core.sessions",
            at="03:00",
            job=tasks.clear_expired_sessions,
            description="Delete expired login sessions",
        )
        schedule.register(
            "core.import_uploads",
            at="03:10",
            job=tasks.purge_stale_import_uploads,
            description="Delete unconfirmed dry-run uploads older than a week (personal data)",
        )
