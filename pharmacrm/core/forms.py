"""Form rendering: every `{{ form }}` renders Bootstrap 5 markup with inline errors."""

from django.forms.renderers import TemplatesSetting


class BootstrapFormRenderer(TemplatesSetting):
    form_template_name = "core/forms/div.html"
    field_template_name = "core/forms/field.html"
