"""Configuration of the demo app."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo app of the testproject."""

    name = "testproject.demo"
    label = "demo"
    verbose_name = "django_limpyd demo"
    default_auto_field = "django.db.models.BigAutoField"
