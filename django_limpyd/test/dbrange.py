"""Checking, before a test run touches anything, that every ``TEST`` database number
it will use exists on its server.

``"TEST": {"DB": 15}`` gives the main process database 15, parallel worker ``k``
(``manage.py test --parallel``) database ``15 + k``, pytest-xdist worker ``gwK``
database ``15 + K + 1``. A server has a fixed number of databases (16 unless its
``databases`` directive says otherwise; 16 for an ``embedded://`` server), so a
number past the last one is refused up front, with one error naming the alias,
the setting, the processes and the highest ``DB`` that fits, instead of a
``DB index is out of range`` in the middle of the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

__all__ = ["check_test_databases"]


def _database_count(tests: Any, alias: str, url: str) -> int | None:
    """How many databases the server of ``url`` has (``None``: it does not say)."""
    if url.startswith("embedded://"):
        from django_limpyd.embedded import DATABASE_COUNT

        return DATABASE_COUNT
    from django_limpyd.test.isolation import with_db

    admin = tests._admin(alias, with_db(url, 0))  # db 0 always exists
    with contextlib.suppress(RedisError, ValueError, TypeError, KeyError):
        return int(admin.config_get("databases")["databases"])
    return None


def _fits(tests: Any, alias: str, url: str, count: int | None) -> bool:
    """True if the database of ``url`` exists on its server (other errors: True, for the
    run's own checks to report)."""
    from django_limpyd.test.isolation import url_db

    if count is not None:
        return url_db(url) + tests.later_processes < count
    try:
        tests._admin(alias, url).ping()
    except RedisError as exc:
        return "out of range" not in str(exc).lower()
    return True


def check_test_databases(tests: Any, configs: dict[str, Any]) -> None:
    """Raise ``ImproperlyConfigured`` if a ``TEST`` location of ``tests`` (a
    :class:`~django_limpyd.test.isolation.TestDatabases` whose ``urls`` are planned)
    would need a database number its server does not have."""
    from django_limpyd.test.isolation import url_db

    for alias, config in configs.items():
        test = config.test
        if "LOCATION" not in test and "DB" not in test:
            continue
        slots = {slot: urls[alias] for slot, urls in tests.urls.items() if alias in urls}
        if not slots or any("+cluster://" in url for url in slots.values()):
            continue  # a Redis Cluster has one database (checked where it is planned)
        url = max(slots.values(), key=url_db)
        count = _database_count(tests, alias, url)
        if _fits(tests, alias, url, count):
            continue
        key = "DB" if "DB" in test else "LOCATION"
        first = test["DB"] if key == "DB" else url_db(test["LOCATION"])
        uses = ", ".join(f"{tests._slot_name(slot)}: db {url_db(slots[slot])}" for slot in slots)
        if tests.later_processes:
            uses += (
                f", the {tests.later_processes} other worker(s) after it: up to db "
                f"{url_db(url) + tests.later_processes}"
            )
        if count is None:
            has, fit = f"refuses db {url_db(url)}", "a lower TEST DB"
        else:
            highest = count - 1 - (url_db(url) - first) - tests.later_processes
            has = f"has {count} databases (0 to {count - 1})"
            fit = f"a TEST DB of at most {highest}" if highest >= 0 else "no TEST DB"
        raise ImproperlyConfigured(
            f"LIMPYD_DATABASES[{alias!r}]['TEST'][{key!r}] = {test[key]!r} leaves too few "
            f"databases for this test run: {uses} (one database per test process), but "
            f"the server of {url} {has}. Give {fit}, run fewer test processes, or raise "
            "the server's `databases` directive."
        )
