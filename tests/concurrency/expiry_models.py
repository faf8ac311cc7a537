"""The model and the reader processes of the expiry test (tests/concurrency/test_expiry.py).

Spawned readers import this module afresh: the model and the job live at module level,
bound to :data:`DATABASE`, pointed at the session's private server by each process.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
import traceback
from typing import Any

from django_limpyd.database import RedisDatabase
from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel

#: never contacted before ``connect(**kwargs)`` points it at the private server
DATABASE = RedisDatabase()
#: instances are spread over this many groups (an indexed field)
GROUPS = 10


class Ticket(RedisModel):
    """An instance with a unique token, an indexed group and a ranged number."""

    database = DATABASE
    namespace = "concurrency"
    expirable = True
    token = InstanceHashField(unique=True)
    group = InstanceHashField(indexable=True)
    rank = StringField(indexable=True, indexes=[NumberRangeIndex])
    payload = StringField()


def now_floor_ms() -> int:
    """The wall clock in whole ms, rounded down: the server's ``TIME`` at any later moment
    is at least this (same host, same clock)."""
    return math.floor(time.time() * 1000)


def read_until(root: str, kwargs: dict[str, Any], seed: int, tasks: Any, results: Any) -> None:
    """Process target: set up, say ready, then take ``(deadlines, start_at, end_at)``
    from ``tasks`` and, from ``start_at`` to ``end_at``, filter, count and read Tickets
    at random, checking each answer against the deadlines ({pk: unix ms}; pk n + 2
    is in group n % GROUPS): an instance returned must have had its deadline after
    the moment the call was sent; an instance said missing must have had its deadline
    before the answer came."""
    try:
        if root not in sys.path:
            sys.path.insert(0, root)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        DATABASE.connect(**kwargs)
        DATABASE.load_scripts()
        results.put((seed, True, "ready"))
        deadlines, start_at, end_at = tasks.get()
        groups = {pk: (int(pk) - 2) % GROUPS for pk in deadlines}
        pks = sorted(deadlines)
        rng = random.Random(seed)
        counts = dict.fromkeys(
            ("filters", "counts", "ranges", "reads", "missing", "returned", "violations"), 0
        )
        violations: list[str] = []

        def check_returned(found: list[str], before: int, what: str) -> None:
            counts["returned"] += len(found)
            for pk in found:
                if pk in deadlines and deadlines[pk] <= before:
                    violations.append(f"{what}: {pk} expired at {deadlines[pk]}, sent at {before}")

        while time.time() < start_at:
            time.sleep(0.005)
        while time.time() < end_at:
            action = rng.random()
            group = rng.randrange(GROUPS)
            before = now_floor_ms()
            if action < 0.35:
                found = list(Ticket.collection(group=group))
                counts["filters"] += 1
                check_returned(found, before, f"filter group={group}")
            elif action < 0.55:
                count = Ticket.collection(group=group).count()
                after = now_floor_ms() + 1
                counts["counts"] += 1
                alive_before = sum(
                    1 for pk, g in groups.items() if g == group and deadlines[pk] > before
                )
                alive_after = sum(
                    1 for pk, g in groups.items() if g == group and deadlines[pk] > after
                )
                if not alive_after <= count <= alive_before:
                    violations.append(
                        f"count group={group}: {count} not in [{alive_after}, {alive_before}]"
                    )
            elif action < 0.75:
                low = rng.randrange(0, 9000)
                found = list(Ticket.collection(rank__gte=low, rank__lt=low + 1000))
                counts["ranges"] += 1
                check_returned(found, before, f"range {low}")
            else:
                pk = rng.choice(pks)
                try:
                    ticket = Ticket(pk)
                    token = ticket.token.hget()
                    payload = ticket.payload.get()
                except Ticket.DoesNotExist:
                    after = now_floor_ms() + 1
                    counts["missing"] += 1
                    if deadlines[pk] > after:
                        violations.append(f"read {pk}: missing before its deadline")
                else:
                    counts["reads"] += 1
                    check_returned([pk], before, f"read {pk} ({token}, {payload})")
        counts["violations"] = len(violations)
        results.put((seed, True, {"counts": counts, "violations": violations[:20]}))
    except BaseException:
        results.put((seed, False, traceback.format_exc()))
    finally:
        DATABASE.close()
