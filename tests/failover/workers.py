"""Writer processes of the failover tests: creates and indexed updates on the
``failover`` alias (a Sentinel service) until a deadline, reporting every write the
server acknowledged, and when writes failed."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[2])


def write_until(entry: dict[str, Any], seed: int, deadline: float, results: Any) -> None:
    """Create ``Order(token=...)`` and update values until ``deadline``."""
    try:
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from django.conf import settings
        from redis.exceptions import RedisError

        from django_limpyd.connections import databases
        from django_limpyd.exceptions import LimpydException
        from tests.failover.models import Order

        settings.LIMPYD_DATABASES = {
            "default": settings.LIMPYD_DATABASES["default"],
            "failover": entry,
        }
        databases.reset()
        acknowledged: dict[str, str] = {}
        failures: list[float] = []
        number = 0
        while time.time() < deadline:
            number += 1
            token = f"w{seed}-{number}"
            try:
                order = Order(token=token, value=str(number % 7))
                acknowledged[token] = order.pk.get()
                if number % 3 == 0:
                    order.value.hset(str(number % 5))
            except (RedisError, LimpydException, OSError):
                failures.append(time.time())
                time.sleep(0.02)
        databases["failover"].close()
        results.put((seed, True, {"acknowledged": acknowledged, "failures": failures}))
    except BaseException:
        results.put((seed, False, traceback.format_exc()))
