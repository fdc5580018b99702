"""A URL map adding one authenticated write endpoint, for testing CSRF on session-authenticated writes.

The foundation's API has no authenticated write yet (issue 4 adds them); this endpoint uses the
real authentication classes and the real error handlers, so the test proves what those writes
will get.
"""

from typing import Any

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from pharmacrm.api.api import BearerTokenAuth, SessionAuth, Utf8JSONRenderer, api
from pharmacrm.urls import urlpatterns as project_urlpatterns

write_api = NinjaAPI(
    renderer=Utf8JSONRenderer(),
    auth=[BearerTokenAuth(), SessionAuth()],
    urls_namespace="api-write-test",
    docs_url=None,
)
write_api._exception_handlers = dict(api._exception_handlers)


@write_api.post("/echo")
def echo(request: HttpRequest) -> Any:
    return {"user": request.user.username}  # type: ignore[union-attr]


urlpatterns = [path("api/v1/test/", write_api.urls), *project_urlpatterns]
