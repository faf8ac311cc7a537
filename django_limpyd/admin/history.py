"""The history of Redis instances in Django's admin log (``LogEntry``).

A Redis model is not a Django model and has no ``ContentType``: its entries have
``content_type=None`` and, as ``object_id``, ``redis:<app_label>.<model_name>:<pk>``
(the pk as it is, any text: the model label holds no ``:``), which names the
instance across models and apps and never collides with a SQL object (their
entries have a content type). ``object_repr`` is how the pages name the instance
and ``change_message`` is Django's JSON (``[{"changed": {"fields": [...]}}]``), so
the Django admin's "Recent actions" lists them (its own ``LogEntry`` methods
render the message), and each instance has a History page reading them back.

Nothing is written when ``django.contrib.admin`` is not installed (no log table).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.http import HttpRequest

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin

__all__ = ["entries", "log_addition", "log_change", "log_deletion", "object_id", "parse"]

PREFIX = "redis:"


def object_id(model: type, pk: str) -> str:
    """The ``LogEntry.object_id`` of instance ``pk`` of ``model``."""
    meta = model._meta
    return f"{PREFIX}{meta.app_label}.{meta.model_name}:{pk}"


def parse(value: str | None) -> tuple[str, str, str] | None:
    """``(app_label, model_name, pk)`` of an ``object_id`` written here, else ``None``."""
    if not value or not value.startswith(PREFIX):
        return None
    label, sep, pk = value[len(PREFIX) :].partition(":")
    app_label, dot, model_name = label.partition(".")
    if not (sep and dot and app_label and model_name):
        return None
    return app_label, model_name, pk


def _log(
    request: HttpRequest, model_admin: RedisModelAdmin, pk: str, label: str, flag: int, message: Any
) -> None:
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=None,
        object_id=object_id(model_admin.model, pk),
        object_repr=f"{label} ({model_admin.opts.verbose_name}, Redis)"[:200],
        action_flag=flag,
        change_message=json.dumps(message) if isinstance(message, list) else message,
    )


def log_addition(request: HttpRequest, model_admin: RedisModelAdmin, pk: str, label: str) -> None:
    """Log the creation of instance ``pk``."""
    from django.contrib.admin.models import ADDITION

    _log(request, model_admin, pk, label, ADDITION, [{"added": {}}])


def log_change(
    request: HttpRequest, model_admin: RedisModelAdmin, pk: str, label: str, fields: list[str]
) -> None:
    """Log a change of the fields ``fields`` of instance ``pk``."""
    from django.contrib.admin.models import CHANGE

    verbose = [name.replace("_", " ") for name in fields]
    _log(
        request,
        model_admin,
        pk,
        label,
        CHANGE,
        [{"changed": {"fields": verbose}}] if verbose else [],
    )


def log_deletion(request: HttpRequest, model_admin: RedisModelAdmin, pk: str, label: str) -> None:
    """Log the deletion of instance ``pk``."""
    from django.contrib.admin.models import DELETION

    _log(request, model_admin, pk, label, DELETION, "")


def entries(model: type, pk: str) -> Any:
    """The log entries of instance ``pk``, oldest first (a queryset)."""
    from django.contrib.admin.models import LogEntry

    return (
        LogEntry.objects.filter(content_type=None, object_id=object_id(model, pk))
        .select_related("user")
        .order_by("action_time")
    )
