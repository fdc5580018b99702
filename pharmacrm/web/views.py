"""Shell pages: home per role, global search, language, API tokens, territories and people."""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.compliance import selectors as compliance_selectors
from pharmacrm.core import selectors as core_selectors
from pharmacrm.core import services as core_services
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import MANAGER_ROLES, OrgUnit, Role, Territory, User
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView
from pharmacrm.core.visibility import visible
from pharmacrm.customers import selectors as customer_selectors
from pharmacrm.engagement import today as engagement_today
from pharmacrm.web.coverage import AssignForm, CorrectForm, RuleForm, RuleRemoveForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = user.roles  # type: ignore[union-attr]
    counts = customer_selectors.customer_counts(user=user)
    context: dict[str, Any] = {
        "counts": counts,
        "is_field": bool(roles & {Role.REP, Role.COMMERCIAL}),
        "is_manager": bool(roles & MANAGER_ROLES),
        "is_company_wide": bool(roles & {Role.ADMIN, Role.DIRECTOR}),
        "is_compliance": Role.COMPLIANCE in roles,
        "is_service": Role.SERVICE in roles,
        "is_marketing": Role.MARKETING in roles,
        "territories": core_selectors.visible_territories(user=user)[:12]
        if roles & {Role.REP, Role.COMMERCIAL}
        else [],
        "team_size": core_selectors.visible_users(user=user).count() if roles & MANAGER_ROLES else None,
        "registration": compliance_selectors.own_registration(user=user) if Role.REP in roles else None,
        "today_counts": engagement_today.today_counts(user=user) if Role.REP in roles else None,
    }
    return render(request, "web/home.html", context)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    results = customer_selectors.search_customers(user=request.user, query=query, limit=50) if query else None
    return render(request, "web/search.html", {"query": query, "results": results, "title": _("搜索")})


@require_POST
@login_required
def set_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    try:
        core_services.set_language(actor=request.user, language=language)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    response = HttpResponseRedirect(target)
    response.set_cookie("django_language", request.user.language, samesite="Lax", httponly=True)  # type: ignore[union-attr]
    return response


class TokenForm(forms.Form):
    name = forms.CharField(label=_l("名称"), max_length=64, help_text=_l("例如：数据同步脚本"))
    days = forms.IntegerField(label=_l("有效天数"), min_value=1, max_value=366, initial=90)


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    new_secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_secret = core_services.create_api_token(
                actor=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
            )
            form = TokenForm()
        except DomainError as exc:
            for field, errs in exc.fields.items():
                for err in errs:
                    form.add_error(field if field in form.fields else None, err)
    context = {
        "form": form,
        "new_secret": new_secret,
        "tokens": core_selectors.my_tokens(user=request.user),
        "title": _("API 令牌"),
        "breadcrumbs": [(_("API 令牌"), None)],
    }
    return render(request, "web/tokens.html", context)


@require_POST
@login_required
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        core_services.revoke_api_token(actor=request.user, token_id=pk)  # type: ignore[arg-type]
        messages.success(request, _("令牌已撤销。"))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:tokens")


# --- Territories ----------------------------------------------------------------------------


class TerritoryTable(tables.Table):
    code = tables.Column(linkify=True, verbose_name=_l("编码"))
    name = tables.Column(linkify=True, verbose_name=_l("名称"))
    org_unit = tables.Column(verbose_name=_l("所属团队"), order_by=("org_unit__path",))
    current_holders = tables.Column(verbose_name=_l("当前负责人数"), orderable=True)

    class Meta:
        model = Territory
        fields = ("code", "name", "org_unit", "current_holders", "is_active")
        attrs = {"class": "table table-sm table-hover align-middle"}


class TerritoryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_l("名称"))
    # Only the teams the user may see: the choices would otherwise name every team in the company.
    org_unit = django_filters.ModelChoiceFilter(
        queryset=lambda request: visible(OrgUnit, user=request.user).filter(kind=OrgUnit.Kind.TEAM),
        label=_l("团队"),
        field_name="org_unit",
    )

    class Meta:
        model = Territory
        fields = ["is_active"]


class TerritoryListView(ObjectListView):
    model = Territory
    table_class = TerritoryTable
    filterset_class = TerritoryFilter
    title = _l("辖区")

    def get_queryset(self) -> QuerySet[Any]:
        return core_selectors.visible_territories(user=self.request.user)


class TerritoryDetailView(ObjectDetailView):
    model = Territory
    body_template = "web/territory_detail.html"
    history_url_name = "web:territory_history"
    list_crumb = (_l("辖区"), reverse_lazy("web:territory_list"))

    def base_queryset(self) -> QuerySet[Any]:
        return Territory.objects.select_related("org_unit")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        assignments = list(
            core_selectors.territory_assignments(user=self.request.user, territory=self.object)
        )
        # Only admins change coverage (core.services refuses everyone else): only they get the forms.
        can_change = self.request.user.has_role(Role.ADMIN)  # type: ignore[union-attr]
        ctx["can_change_coverage"] = can_change
        ctx["assignment_rows"] = [(a, CorrectForm(assignment=a) if can_change else None) for a in assignments]
        rules = core_selectors.territory_rules(user=self.request.user).filter(territory=self.object)
        ctx["rule_rows"] = [(rule, RuleRemoveForm(rule=rule) if can_change else None) for rule in rules]
        if can_change:
            ctx["assign_form"] = AssignForm()
            ctx["rule_form"] = RuleForm()
        return ctx


class TerritoryHistoryView(ObjectHistoryView, TerritoryDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


# --- People -----------------------------------------------------------------------------------


class UserTable(tables.Table):
    username = tables.Column(linkify=True, verbose_name=_l("用户名"))
    display_name = tables.Column(verbose_name=_l("姓名"))
    org_unit = tables.Column(verbose_name=_l("所属组织"), order_by=("org_unit__path",))
    # Reads the prefetched rows; the default accessor (User.roles) would query once per row.
    roles = tables.Column(accessor="role_rows", empty_values=(), orderable=False, verbose_name=_l("角色"))

    class Meta:
        model = User
        fields = ("username", "display_name", "org_unit", "roles", "is_active")
        attrs = {"class": "table table-sm table-hover align-middle"}

    def render_roles(self, record: User) -> str:
        # Sorted by code, as User.role_labels does, so the order does not depend on the database.
        return " · ".join(str(Role(code).label) for code in sorted(r.role for r in record.role_rows.all()))


class UserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_l("姓名或用户名"))
    role = django_filters.ChoiceFilter(field_name="role_rows__role", choices=Role.choices, label=_l("角色"))

    class Meta:
        model = User
        fields = ["is_active"]

    def filter_q(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        from django.db.models import Q

        return queryset.filter(Q(username__icontains=value) | Q(display_name__icontains=value))


class UserListView(ObjectListView):
    model = User
    table_class = UserTable
    filterset_class = UserFilter
    title = _l("人员")

    def get_queryset(self) -> QuerySet[Any]:
        return core_selectors.visible_users(user=self.request.user)


class UserDetailView(ObjectDetailView):
    model = User
    body_template = "web/user_detail.html"
    history_url_name = "web:user_history"
    list_crumb = (_l("人员"), reverse_lazy("web:user_list"))

    def base_queryset(self) -> QuerySet[Any]:
        return User.objects.select_related("org_unit")


class UserHistoryView(ObjectHistoryView, UserDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout response: the API keeps its own JSON error; pages get the locked-out page."""
    if original_response is not None and request.path.startswith("/api/"):
        return original_response
    return render(request, "registration/locked_out.html", status=429)


def error_404(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_403(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "403.html", status=403)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
