"""What every page's shell needs: the navigation for the user's roles and who they are."""

from typing import Any

from django.http import HttpRequest

from pharmacrm.web.navigation import nav_for


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_items": nav_for(user, current_path=request.path)}
