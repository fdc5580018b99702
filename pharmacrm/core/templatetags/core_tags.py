"""Template helpers shared by every app: Bootstrap widgets and visibility checks."""

from typing import Any

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

from pharmacrm.core import visibility

register = template.Library()


@register.simple_tag
def bs_widget(field: BoundField, css_class: str) -> SafeString:
    """Render a field's widget with Bootstrap classes and aria-invalid when it has errors."""
    classes = [css_class]
    attrs: dict[str, Any] = {}
    if field.errors:
        classes.append("is-invalid")
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}_error"
    existing = field.field.widget.attrs.get("class", "")
    attrs["class"] = " ".join([existing, *classes]).strip()
    return field.as_widget(attrs=attrs)


@register.filter
def can_see(obj: Any, user: Any) -> bool:
    return visibility.can_see(obj, user=user)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`{{ titles|get_item:code }}` — look a key up in a dict."""
    return mapping.get(key) if hasattr(mapping, "get") else None
