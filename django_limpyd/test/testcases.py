"""Test case classes whose tests start on empty Redis test databases.

``LimpydTestMixin`` goes before one of Django's test cases::

    class PersonTests(LimpydTestMixin, django.test.TestCase): ...

Its tests may use the aliases of ``limpyd_databases`` (default: all), which
are flushed before each test; ``assertNumCommands`` counts what a block sends.
A test case whose ``limpyd_databases`` is empty (:class:`SimpleTestCase`)
gets :class:`~django_limpyd.test.isolation.DatabaseAccessBlocked` when it
touches Redis.

Redis has no transaction to roll back: create the data of each test in
``setUp`` (or the test), not in ``setUpClass``/``setUpTestData``, since the
databases are flushed before each test. ``limpyd_fixtures`` (files written by
``limpyd_dump``) are loaded after each flush.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import test as django_test

from django_limpyd.test import commands
from django_limpyd.test.fixtures import load_fixtures
from django_limpyd.test.isolation import ALL, blocker, check_aliases, require_active

__all__ = ["LimpydTestMixin", "SimpleTestCase", "TestCase", "TransactionTestCase"]


class LimpydTestMixin:
    """Redis access and an empty Redis before each test, for a Django test case."""

    #: the aliases this test case uses (``"__all__"``, or an iterable); empty: none
    limpyd_databases: Any = ALL
    #: JSON files of ``limpyd_dump`` loaded before each test (names looked up like
    #: Django's fixtures: in each app's ``fixtures/`` and ``FIXTURE_DIRS``; or paths)
    limpyd_fixtures: Any = ()
    _limpyd_asked: Any = ()

    @classmethod
    def setUpClass(cls) -> None:
        # before Django's setUpClass, which may run _pre_setup eagerly
        where = f"{cls.__module__}.{cls.__qualname__}.limpyd_databases"
        asked = check_aliases(cls.limpyd_databases, where) if cls.limpyd_databases else ()
        cls._limpyd_asked = asked
        hold = blocker.unblock(asked) if asked else blocker.block()
        cls.addClassCleanup(hold.release)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]

    @classmethod
    def _pre_setup(cls) -> None:
        if cls._limpyd_asked:
            require_active(f"{cls.__module__}.{cls.__qualname__}").flush(cls._limpyd_asked)
        if cls.limpyd_fixtures:
            load_fixtures(cls.limpyd_fixtures, f"{cls.__module__}.{cls.__qualname__}")
        super()._pre_setup()  # type: ignore[misc]

    @contextmanager
    def assertNumCommands(  # like assertNumQueries
        self, num: int, using: Any = "default", *, round_trips: int | None = None
    ) -> Iterator[commands.CommandRecorder]:
        """Fail unless the block sends exactly ``num`` commands to the database
        ``using`` (an alias, a database or a model), and ``round_trips`` if given;
        the failure lists the commands."""
        with commands.assert_num_commands(num, using, round_trips=round_trips) as recorder:
            yield recorder


class SimpleTestCase(LimpydTestMixin, django_test.SimpleTestCase):
    """Django's ``SimpleTestCase``: no Redis unless ``limpyd_databases`` names some."""

    limpyd_databases: Any = ()


class TransactionTestCase(LimpydTestMixin, django_test.TransactionTestCase):
    """Django's ``TransactionTestCase``, with empty Redis test databases for each test."""


class TestCase(LimpydTestMixin, django_test.TestCase):
    """Django's ``TestCase``, with empty Redis test databases for each test."""
