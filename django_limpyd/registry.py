"""The registry of Redis models defined in installed Django apps.

``get_model("shop.Person")`` and ``get_models(app_label=None)``, like Django's
app registry for database models. Models defined outside apps (scripts, a
library's tests) are not registered here; they live only on their database.
"""

from __future__ import annotations

import threading
from typing import Any

from django_limpyd.exceptions import ImplementationError

__all__ = ["get_model", "get_models", "register", "unregister"]

_lock = threading.Lock()
_models: dict[str, dict[str, type]] = {}


def register(model: type) -> None:
    """Record a concrete model of an app (called when the class is created)."""
    meta = model._meta
    with _lock:
        app_models = _models.setdefault(meta.app_label, {})
        existing = app_models.get(meta.model_name)
        if existing is not None and existing is not model:
            same = (existing.__module__, existing.__qualname__) == (
                model.__module__,
                model.__qualname__,
            )
            if not same:
                raise ImplementationError(
                    f"Conflicting '{meta.model_name}' Redis models in application "
                    f"'{meta.app_label}': {existing.__module__}.{existing.__qualname__} and "
                    f"{model.__module__}.{model.__qualname__}."
                )
        app_models[meta.model_name] = model


def unregister(model: type) -> None:
    """Forget a model (for tests defining models in apps on the fly)."""
    meta = model._meta
    with _lock:
        app_models = _models.get(meta.app_label, {})
        if app_models.get(meta.model_name) is model:
            del app_models[meta.model_name]
        if meta._registered_on is not None:
            meta._registered_on._remove_model(model)
            meta._registered_on = None


def get_model(app_label: str, model_name: str | None = None) -> type:
    """The model ``"app_label.ModelName"`` (or ``app_label, model_name``); the model
    name is case-insensitive. ``LookupError`` if there is none."""
    if model_name is None:
        if not isinstance(app_label, str) or app_label.count(".") != 1:
            raise LookupError(f"Model label must be 'app_label.ModelName', got {app_label!r}.")
        app_label, model_name = app_label.split(".")
    model = _models.get(app_label, {}).get(model_name.lower())
    if model is None:
        raise LookupError(f"Model '{app_label}.{model_name}' not registered.")
    return model


def get_models(app_label: str | None = None) -> list[type]:
    """Every registered model, or those of one app, in definition order."""
    with _lock:
        if app_label is not None:
            return list(_models.get(app_label, {}).values())
        return [model for models in _models.values() for model in models.values()]


def _app_config_for(module: str) -> Any:
    """The installed app containing ``module`` (``None`` outside apps or before setup)."""
    from django.apps import apps

    if not apps.apps_ready:
        return None
    return apps.get_containing_app_config(module)
