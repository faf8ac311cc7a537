"""Settings of django_limpyd, read through one cached accessor.

Nothing here reads settings at import time. :func:`get_setting` caches what it
read; the cache is cleared on Django's ``setting_changed`` signal, so
``override_settings`` works in tests.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: Every setting of django_limpyd with its default.
DEFAULTS: dict[str, Any] = {
    # alias -> {"LOCATION" | "CACHE", "OPTIONS", "TEST"}; see docs/settings.rst
    "LIMPYD_DATABASES": {},
    # path of the redis-server binary used for embedded:// locations and tests
    "LIMPYD_REDIS_SERVER": None,
    # log every command on the "django_limpyd.commands" logger (None: follow DEBUG)
    "LIMPYD_LOG_COMMANDS": None,
    "LIMPYD_ADMIN_PERMISSION": None,  # admin pages: who may change, "path.to.check(request)"
}

#: Settings whose change invalidates the configured databases.
_WATCHED = frozenset(DEFAULTS) | {"CACHES", "BASE_DIR", "DEBUG"}


@functools.cache
def get_setting(name: str) -> Any:
    """Return the value of the django_limpyd setting ``name`` (or its default)."""
    if name not in DEFAULTS:
        raise KeyError(f"{name!r} is not a django_limpyd setting")
    return getattr(settings, name, DEFAULTS[name])


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting not in _WATCHED:
        return
    get_setting.cache_clear()
    from django_limpyd.connections import databases

    databases.reset()
