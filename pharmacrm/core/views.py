"""Generic page patterns every app uses (scoped list, detail with tabs, history) and /healthz."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from pharmacrm.core import visibility
from pharmacrm.core.audit import history_entries
from pharmacrm.core.models import WorkerHeartbeat

Crumb = tuple[Any, Any]


class ScopedMixin(LoginRequiredMixin):
    """Every page starts from the user's visible rows; anything else is a 404."""

    model: type[Model]
    request: HttpRequest

    def base_queryset(self) -> QuerySet[Any]:
        """Override to add select_related/annotations; visibility is applied on top."""
        return self.model._default_manager.all()

    def get_queryset(self) -> QuerySet[Any]:
        return visibility.visible(self.base_queryset(), user=self.request.user)


class ObjectListView(ScopedMixin, SingleTableMixin, FilterView):
    """A filterable, sortable, paginated list. An HTMX request gets only the results partial.

    Subclasses set `model`, `table_class`, `filterset_class`, `title` and optionally
    `create_url_name`, offered when `may_create()` says the user may create one. The query count does not grow with rows: tables must only touch
    relations selected in `base_queryset`.
    """

    template_name = "core/object_list.html"
    # The table paginates; ListView's own paginate_by would count the rows a second time.
    table_pagination = {"per_page": 25}
    title: Any = ""
    create_url_name: str | None = None
    breadcrumbs: list[Crumb] = []

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:  # type: ignore[attr-defined]
            return [f"{self.template_name}#results"]
        return [self.template_name]

    def may_create(self) -> bool:
        """Whether the list offers its create button to this user (the create view still checks)."""
        return True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            title=self.title,
            create_url_name=self.create_url_name if self.create_url_name and self.may_create() else None,
            breadcrumbs=[*self.breadcrumbs, (self.title, None)],
        )
        return ctx


class Tab:
    def __init__(self, slug: str, label: Any, url: str):
        self.slug, self.label, self.url = slug, label, url


class ObjectDetailView(ScopedMixin, DetailView):
    """A detail page with tabs; the history tab is always there."""

    template_name = "core/object_detail.html"
    body_template: str = ""
    active_tab = "overview"
    list_crumb: Crumb | None = None
    history_url_name: str | None = None

    def get_tabs(self) -> list[Tab]:
        obj = self.object
        tabs = [
            Tab("overview", _("概览"), obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else "")
        ]
        if self.history_url_name:
            from django.urls import reverse

            tabs.append(Tab("history", _("变更记录"), reverse(self.history_url_name, args=[obj.pk])))
        return tabs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        crumbs: list[Crumb] = [self.list_crumb] if self.list_crumb else []
        crumbs.append((str(self.object), None))
        ctx.update(
            tabs=self.get_tabs(),
            active_tab=self.active_tab,
            body_template=self.body_template,
            breadcrumbs=crumbs,
        )
        return ctx


class ObjectHistoryView(ObjectDetailView):
    """The history tab: every change with who, when, from where, and before → after."""

    active_tab = "history"
    body_template = "core/history_tab.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["history"] = history_entries(self.object)
        return ctx


WORKER_STALE_AFTER = dt.timedelta(seconds=60)


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 with database and worker status; 503 when the database does not answer."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        body["database"] = {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        body["status"] = "error"
        body["database"] = {"status": "error", "error": exc.__class__.__name__}
        return JsonResponse(body, status=503)
    now = timezone.now()
    beats = list(
        WorkerHeartbeat.objects.filter(last_seen_at__gte=now - WORKER_STALE_AFTER).values_list(
            "worker_id", flat=True
        )
    )
    last = WorkerHeartbeat.objects.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    body["worker"] = {
        "status": "ok" if beats else ("stale" if last else "none"),
        "alive": len(beats),
        "last_seen": last.isoformat() if last else None,
    }
    try:
        from django_tasks_db.models import DBTaskResult

        body["worker"]["queued"] = DBTaskResult.objects.filter(status="READY").count()
    except Exception:  # the RQ backend keeps its queue in Redis
        body["worker"]["queued"] = None
    return JsonResponse(body)


def role_required(*roles: str) -> Any:
    """Page decorator: logged in and holding one of `roles`, else 403 (the page itself is not secret)."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied

    def decorate(view: Any) -> Any:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_role(*roles):  # type: ignore[union-attr]
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class RoleRequiredMixin:
    """Class-based twin of role_required."""

    required_roles: tuple[str, ...] = ()
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from django.contrib.auth.views import redirect_to_login
        from django.core.exceptions import PermissionDenied

        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if self.required_roles and not request.user.has_role(*self.required_roles):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def actor(request: HttpRequest) -> Any:
    """The signed-in user acting in this request (views behind login only)."""
    from pharmacrm.core.models import User

    user = request.user
    if not isinstance(user, User):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    return user
