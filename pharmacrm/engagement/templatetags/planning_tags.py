"""Template filters for the planning, today and care pages."""

from django import template

from pharmacrm.engagement.calendar_cn import occasion_label

register = template.Library()


@register.filter
def occasion(code: str) -> str:
    """生日, 中秋节 …: the label of a care occasion code."""
    return occasion_label(code)
