"""The suite's fixtures, on top of django_limpyd's own pytest plugin (dogfood).

The plugin (``limpyd_autouse = true`` in pyproject.toml) gives each session,
that is each xdist worker, a private redis-server, points the ``default`` and
``other`` aliases at its db 0 and db 1, and gives every test those databases
empty and unblocked. No test ever touches a server it did not start. The
fixtures below keep the names the suite uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_limpyd.database import RedisDatabase
from tests.tools.calls import redis_server_version


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-cluster",
        action="store_true",
        default=False,
        help="Run the tests on a private Redis Cluster (3 masters on loopback): the "
        "'default' alias and the `database` / `redis_server` fixtures use it.",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("redis_cluster"):
        return "django_limpyd suite: on a private Redis Cluster (--redis-cluster)"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """With --redis-cluster, every RelatedModel of the suite shares one hash tag: related
    fields write the keys of two models in one function call, which a cluster runs
    only within one slot (docs/scaling.rst). Set before the test modules define them."""
    if session.config.getoption("redis_cluster"):
        from django_limpyd.contrib.related import RelatedModel

        if not os.environ.get("LIMPYD_TEST_CROSS_SLOT"):
            RelatedModel.hash_tag = "related"


_CLUSTER_TESTS = Path(__file__).parent / "cluster"


def _starts_a_cluster(item: pytest.Item) -> bool:
    """True if ``item`` starts a private Redis Cluster: a test of ``tests/cluster/``, or
    a test whose function or one of its fixtures names ``PrivateRedisCluster``."""
    if _CLUSTER_TESTS in Path(item.path).parents:
        return True
    functions = [getattr(item, "function", None)]
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is not None:
        for name in fixtureinfo.names_closure:
            functions.extend(d.func for d in fixtureinfo.name2fixturedefs.get(name, ()))
    return any(
        "PrivateRedisCluster" in getattr(getattr(f, "__code__", None), "co_names", ())
        for f in functions
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_cluster = config.getoption("redis_cluster")
    skip = pytest.mark.skip(
        reason="needs a plain Redis server" if on_cluster else "needs --redis-cluster"
    )
    for item in items:
        if item.get_closest_marker("standalone" if on_cluster else "cluster"):
            item.add_marker(skip)
    # A private Redis Cluster needs Redis >= 7 (CLUSTER ADDSLOTSRANGE), as does the
    # cluster support itself (docs/scaling.rst, "Requirements").
    needs_7 = [item for item in items if _starts_a_cluster(item)]
    if needs_7 and redis_server_version() < (7,):
        version = ".".join(map(str, redis_server_version()))
        skip_7 = pytest.mark.skip(
            reason=f"starts a private Redis Cluster: needs Redis >= 7 (redis-server {version})"
        )
        for item in needs_7:
            item.add_marker(skip_7)


@pytest.fixture(scope="session")
def on_cluster(request: pytest.FixtureRequest) -> bool:
    """True when the run uses a Redis Cluster (``--redis-cluster``)."""
    return bool(request.config.getoption("redis_cluster"))


@pytest.fixture(scope="session", autouse=True)
def _limpyd_databases(on_cluster: bool) -> Iterator[None]:
    """The suite's aliases; their locations are never contacted (the plugin points
    them at its private server, or at a private cluster for a cluster alias). Autouse:
    set before the plugin reads them."""
    default = "redis+cluster://127.0.0.1:1/" if on_cluster else "redis://127.0.0.1:1/0"
    databases = {
        "default": {"LOCATION": default, "OPTIONS": {"SOCKET_TIMEOUT": 5}},
        "other": {"LOCATION": "redis://127.0.0.1:1/1"},
    }
    with override_settings(LIMPYD_DATABASES=databases):
        yield


@pytest.fixture(scope="session")
def redis_server(request: pytest.FixtureRequest, on_cluster: bool, _limpyd_databases: None) -> Any:
    """The session's private redis-server (the plugin's ``limpyd_server``), or with
    ``--redis-cluster`` the private cluster of the ``default`` alias."""
    if on_cluster:
        return request.getfixturevalue("limpyd_db_setup").clusters[0]
    return request.getfixturevalue("limpyd_server")


@pytest.fixture(autouse=True)
def _empty_server(redis_server: Any) -> None:
    """Each test starts on an empty server: the plugin empties the aliases' databases,
    this also empties the other databases that some tests use."""
    client = redis_server.client()
    client.flushall()
    client.close()


@pytest.fixture
def database(redis_server: Any) -> Iterator[RedisDatabase]:
    """A hand-built database on db 0 of the private server (the ``default`` alias's)."""
    db = RedisDatabase(**redis_server.connection_kwargs())
    yield db
    db.close()
