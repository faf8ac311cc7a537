"""The pytest plugin of django_limpyd (entry point ``pytest11``: ``django_limpyd``).

Active when Django's settings are configured (pytest-django's
``DJANGO_SETTINGS_MODULE``, or ``settings.configure()``). Each session (each
pytest-xdist worker) points every ``LIMPYD_DATABASES`` alias at its test
location, by default its own database of a private redis-server of the
session (see :mod:`django_limpyd.test.isolation`), and blocks Redis access for
the tests that do not ask for it:

* the ``limpyd_db`` fixture, the ``limpyd`` marker, or the ini setting
  ``limpyd_autouse = true`` (every test) give a test empty, unblocked test
  databases;
* ``assert_num_commands`` is ``django_assert_num_queries`` for Redis;
* ``limpyd_server`` is the session's private redis-server, ``limpyd_blocker``
  the blocker (``with limpyd_blocker.unblock(): ...`` in a session fixture).

Options (group ``django_limpyd``): ``--limpyd-keepdb``, ``--limpyd-noinput``,
``--limpyd-autouse``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

__all__ = [
    "assert_num_commands",
    "limpyd_blocker",
    "limpyd_db",
    "limpyd_db_setup",
    "limpyd_server",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("django_limpyd", "django_limpyd: Redis test databases")
    group.addoption(
        "--limpyd-keepdb",
        action="store_true",
        default=False,
        dest="limpyd_keepdb",
        help="Keep the data of the TEST locations of LIMPYD_DATABASES at the end of the "
        "run; the next --limpyd-keepdb run does not flush it first.",
    )
    group.addoption(
        "--limpyd-noinput",
        action="store_true",
        default=False,
        dest="limpyd_noinput",
        help="Flush TEST locations that hold keys no test run created (without this "
        "option their tests fail, as pytest cannot ask).",
    )
    group.addoption(
        "--limpyd-autouse",
        action="store_true",
        default=False,
        dest="limpyd_autouse",
        help="Give every test empty Redis test databases (as the ini limpyd_autouse).",
    )
    parser.addini(
        "limpyd_autouse",
        type="bool",
        default=False,
        help="Give every test empty Redis test databases, as if it used limpyd_db.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "limpyd(databases='__all__'): give the test empty Redis test databases "
        "(django_limpyd); `databases` lists the aliases it may use.",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _django_configured():
        return None
    who = "every test" if _autouse(config) else "tests that ask (limpyd_db, limpyd marker)"
    return f"django_limpyd: empty Redis test databases for {who}; Redis blocked for others"


def _django_configured() -> bool:
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        return True
    from django.conf import settings

    return settings.configured


def _require_django() -> None:
    if not _django_configured():
        pytest.fail(
            "django_limpyd: Django settings are not configured (set DJANGO_SETTINGS_MODULE, "
            "e.g. with pytest-django, or call settings.configure()).",
            pytrace=False,
        )


def _autouse(config: pytest.Config) -> bool:
    return bool(config.getoption("limpyd_autouse") or config.getini("limpyd_autouse"))


def _worker_offset(config: pytest.Config) -> int:
    """0 without xdist; the xdist worker's index + 1 (``gw0`` is 1)."""
    workerinput = getattr(config, "workerinput", None)
    if not workerinput:
        return 0
    digits = re.sub(r"\D", "", workerinput.get("workerid", ""))
    return int(digits or 0) + 1


def _requested_aliases(node: pytest.Item) -> Any:
    from django_limpyd.test.isolation import ALL, check_aliases

    marker = node.get_closest_marker("limpyd")
    if marker is None:
        return ALL
    return check_aliases(marker.kwargs.get("databases", ALL), "The limpyd marker")


def _is_limpyd_testcase(cls: type | None) -> bool:
    testcases = sys.modules.get("django_limpyd.test.testcases")
    return bool(
        cls is not None
        and testcases is not None
        and issubclass(cls, testcases.LimpydTestMixin)
        and cls.limpyd_databases
    )


# -- session ----------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _limpyd_session_blocker() -> Iterator[None]:
    """Block Redis access for the whole session (when Django is configured)."""
    if not _django_configured():
        yield
        return
    from django_limpyd.test.isolation import blocker

    with blocker.block():
        yield


@pytest.fixture(scope="session")
def limpyd_blocker() -> Any:
    """The access blocker: ``with limpyd_blocker.unblock(): ...`` allows Redis."""
    from django_limpyd.test.isolation import blocker

    return blocker


@pytest.fixture(scope="session")
def limpyd_server() -> Iterator[Any]:
    """The session's private redis-server (one per xdist worker; unix socket, no
    persistence), started on first use and stopped at the end of the session."""
    _require_django()
    from django_limpyd.connections import databases
    from django_limpyd.test.isolation import PRIVATE_MIN_DATABASES, short_tempdir
    from django_limpyd.test.server import PrivateRedisServer

    directory = short_tempdir()
    count = max(PRIVATE_MIN_DATABASES, len(list(databases)))
    server = PrivateRedisServer(directory, extra={"databases": count})
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def limpyd_db_setup(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Point every alias at its test location for the session (``TestDatabases``)."""
    _require_django()
    from django.core.exceptions import ImproperlyConfigured

    from django_limpyd.test.isolation import TestDatabases, TestLocationRefused

    config = request.config

    def server_factory(count: int) -> Any:
        return request.getfixturevalue("limpyd_server")  # has enough databases

    workerinput = getattr(config, "workerinput", None) or {}
    test_databases = TestDatabases(
        db_offset=_worker_offset(config),
        keepdb=config.getoption("limpyd_keepdb"),
        server_factory=server_factory,
        process_name=(
            f"pytest-xdist worker {workerinput['workerid']}"
            if "workerid" in workerinput
            else "main process"
        ),
        later_processes=max(0, int(workerinput.get("workercount", 0)) - _worker_offset(config)),
    )
    confirm: Callable[[str], bool] | None = None
    if config.getoption("limpyd_noinput"):
        confirm = lambda message: True  # noqa: E731
    refused = None
    try:
        test_databases.setup(confirm)
    except TestLocationRefused as exc:
        refused = f"{exc}\nRun with --limpyd-noinput to flush them."
    except ImproperlyConfigured as exc:  # a TEST setting: one line, no traceback
        refused = f"django_limpyd: {exc}"
    if refused is not None:
        pytest.fail(refused, pytrace=False)
    try:
        yield test_databases
    finally:
        test_databases.teardown()


@pytest.fixture(autouse=True, scope="class")
def _limpyd_unittest(request: pytest.FixtureRequest) -> None:
    """Set up the test databases before a LimpydTestMixin test case's setUpClass."""
    if _is_limpyd_testcase(request.cls):
        request.getfixturevalue("limpyd_db_setup")


# -- each test --------------------------------------------------------------------------


@pytest.fixture
def limpyd_db(request: pytest.FixtureRequest, limpyd_db_setup: Any) -> Iterator[Any]:
    """Empty test databases for this test, which may use them (the aliases of its
    ``limpyd`` marker, default all); the value is the ``default`` database."""
    from django_limpyd.connections import databases
    from django_limpyd.test.isolation import blocker

    aliases = _requested_aliases(request.node)
    limpyd_db_setup.flush(aliases)
    with blocker.unblock(aliases):
        # the handler has no get()
        yield databases["default"] if "default" in databases else None  # noqa: SIM401


@pytest.fixture(autouse=True)
def _limpyd_marker(request: pytest.FixtureRequest) -> None:
    """``limpyd_db`` for the tests marked ``limpyd``, or every test with autouse."""
    if "limpyd_db" in request.fixturenames:
        return
    if request.node.get_closest_marker("limpyd") or _autouse(request.config):
        request.getfixturevalue("limpyd_db")


@pytest.fixture
def assert_num_commands(limpyd_db: Any) -> Callable[..., Any]:
    """``with assert_num_commands(2): ...`` fails unless the block sends exactly 2
    commands to ``using`` (an alias, default ``"default"``, a database or a model);
    ``round_trips=`` checks those too. The failure lists the commands."""
    from django_limpyd.test import commands

    def check(num: int, using: Any = "default", *, round_trips: int | None = None) -> Any:
        return commands.assert_num_commands(num, using, round_trips=round_trips)

    return check
