"""Django application configuration for django_limpyd."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DjangoLimpydConfig(AppConfig):
    """Imports every installed app's ``redis_models`` module (no connection is opened)."""

    name = "django_limpyd"
    verbose_name = "Redis models"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_limpyd import admin_checks, checks  # noqa: F401 - registers the checks

        autodiscover_modules("redis_models")
