"""Pages that submit a form to one service call: inline validation, domain errors as form errors, HTMX partials.

A form page renders `customers/form_page.html`. With HTMX the form posts in place: a refusal comes
back as the same form with the service's Chinese messages beside the fields, a success redirects.
On every change the form is also posted with `_validate=1`: the service runs inside a transaction
that is rolled back, so the user sees the same messages the real save would give (a department of
another institution, a grade on a pharmacy …) before pressing save, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from pharmacrm.core.errors import DomainError, NotAllowed

T = TypeVar("T")


class _DryRun(Exception):
    """Raised to roll back a validation-only save."""


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Put a service's refusal on the form: field messages beside their fields, the rest on top."""
    placed: list[str] = []
    for field, messages_ in exc.fields.items():
        name = field.split(".")[0]
        target = name if name in form.fields else None
        for message in messages_:
            form.add_error(target, message)
            placed.append(message)
    if exc.message not in placed:
        form.add_error(None, exc.message)


def is_validation(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("_validate") == "1"


def keep_touched_errors(form: forms.BaseForm, data: Mapping[str, Any]) -> None:
    """While the user is still filling the form, only speak about fields that have a value."""
    for name in list(form.errors):
        if name != NON_FIELD_ERRORS and not data.get(form.add_prefix(name)):
            del form.errors[name]


def run_form(
    request: HttpRequest, form: forms.BaseForm, save: Callable[[dict[str, Any]], T]
) -> tuple[bool, T | None]:
    """Validate and save. Returns (saved, result); refusals end up on the form. NotAllowed becomes 403."""
    if request.method != "POST":
        return False, None
    validating = is_validation(request)
    if form.is_valid():
        try:
            if validating:
                with transaction.atomic():
                    save(form.cleaned_data)
                    raise _DryRun
            return True, save(form.cleaned_data)
        except _DryRun:
            pass
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            add_domain_error(form, exc)
    if validating:
        keep_touched_errors(form, request.POST)
    return False, None


def form_page(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    save: Callable[[dict[str, Any]], T],
    success_url: Callable[[T], str],
    title: Any,
    success_message: Any = None,
    breadcrumbs: list[tuple[Any, Any]] | None = None,
    cancel_url: str = "",
    template: str = "customers/form_page.html",
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The whole request/response cycle of a form page backed by one service call."""
    saved, result = run_form(request, form, save)
    if saved:
        if success_message:
            messages.success(request, str(success_message))
        url = success_url(result)  # type: ignore[arg-type]
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return redirect(url)
    context = {
        "form": form,
        "title": title,
        "breadcrumbs": [*(breadcrumbs or []), (title, None)],
        "cancel_url": cancel_url,
        **(extra or {}),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and request.method == "POST":
        return render(request, f"{template}#form", context)
    return render(request, template, context)
