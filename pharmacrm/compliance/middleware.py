"""Writes the compliance refusals a request raised inside rolled-back transactions."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from pharmacrm.compliance.policy import flush_events


class ComplianceEventMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            flush_events()
