"""``TEST_RUNNER = "django_limpyd.test.runner.DiscoverRunner"``.

Django's runner, extended through its hooks:

* ``setup_databases`` points every ``LIMPYD_DATABASES`` alias at its test
  location (see :mod:`django_limpyd.test.isolation`) before Django creates its
  test databases; a location holding keys that no test run created is flushed
  only once confirmed (``--noinput`` answers yes; "no" cancels the run); a
  ``TEST`` setting that cannot serve every process (e.g. a ``DB`` too high for
  ``--parallel``) is a ``CommandError`` before anything is flushed;
* ``run_suite`` blocks Redis access for the tests that did not ask for it;
* the parallel worker initializer gives each ``--parallel`` worker its own
  databases;
* ``teardown_databases`` flushes the ``TEST`` locations (``--keepdb`` keeps
  them) and stops the private redis-server.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.test import runner as django_runner

from django_limpyd.test.isolation import (
    ENVIRONMENT_VARIABLE,
    TestDatabases,
    TestLocationRefused,
    active,
    blocker,
)

__all__ = ["DiscoverRunner", "ParallelTestSuite"]


def _init_worker(counter: Any, *args: Any, **kwargs: Any) -> None:
    """Django's worker initializer, then this worker's own Redis test databases."""
    django_runner._init_worker(counter, *args, **kwargs)
    test_databases = active()  # inherited with fork; rebuilt from the plan with spawn
    if test_databases is None:
        test_databases = TestDatabases.from_json(os.environ[ENVIRONMENT_VARIABLE])
    test_databases.activate(django_runner._worker_id)
    if not blocker.is_blocked:
        blocker.block()  # for the life of the worker


class ParallelTestSuite(django_runner.ParallelTestSuite):
    """Django's parallel suite whose workers switch to their own Redis databases."""

    init_worker = _init_worker


class DiscoverRunner(django_runner.DiscoverRunner):
    """Django's ``DiscoverRunner`` that also isolates the Redis databases."""

    parallel_test_suite = ParallelTestSuite

    def setup_databases(self, **kwargs: Any) -> Any:
        workers = self.parallel if self.parallel > 1 else 0
        self.limpyd_databases = TestDatabases(
            workers=workers, keepdb=self.keepdb, log=self.log, verbosity=self.verbosity
        )
        confirm = self.confirm_flush if self.interactive else (lambda message: True)
        try:
            self.limpyd_databases.setup(confirm)
        except TestLocationRefused:
            self.limpyd_databases = None
            self.log("Tests cancelled.")
            sys.exit(1)
        except ImproperlyConfigured as exc:  # a TEST setting: one error, no traceback
            self.limpyd_databases = None
            raise CommandError(str(exc)) from exc
        os.environ[ENVIRONMENT_VARIABLE] = self.limpyd_databases.to_json()
        try:
            return super().setup_databases(**kwargs)
        except BaseException:
            self._teardown_limpyd()
            raise

    def confirm_flush(self, message: str) -> bool:
        """Ask on the terminal, like Django does for an existing test database."""
        print(message)
        try:
            answer = input("Type 'yes' if you would like to flush them, or 'no' to cancel: ")
        except EOFError:
            return False
        return answer.strip().lower() == "yes"

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        with blocker.block():
            return super().run_suite(suite, **kwargs)

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        try:
            super().teardown_databases(old_config, **kwargs)
        finally:
            self._teardown_limpyd()

    def _teardown_limpyd(self) -> None:
        os.environ.pop(ENVIRONMENT_VARIABLE, None)
        test_databases = getattr(self, "limpyd_databases", None)
        if test_databases is not None:
            self.limpyd_databases = None
            test_databases.teardown()
