"""Django application configuration for django_limpyd."""

from django.apps import AppConfig


class DjangoLimpydConfig(AppConfig):
    """Registers django_limpyd with Django (no connection is opened here)."""

    name = "django_limpyd"
    verbose_name = "Redis models"
    default_auto_field = "django.db.models.AutoField"
