"""The pieces of django_limpyd.test.isolation that need no subprocess.

This suite itself runs with the pytest plugin (``limpyd_autouse``): the
session's test databases are active, and every test is allowed Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import django_limpyd
from django_limpyd import test as limpyd_test
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import LimpydException
from django_limpyd.test import isolation
from django_limpyd.test.isolation import (
    AccessBlocker,
    DatabaseAccessBlocked,
    TestDatabases,
    active,
    url_db,
    with_db,
)


@pytest.mark.parametrize(
    ("url", "db", "moved"),
    [
        ("redis://h:6379/3", 3, "redis://h:6379/7"),
        ("redis://h", 0, "redis://h/7"),
        ("rediss://u:p@h:6380/2?ssl_cert_reqs=none", 2, "rediss://u:p@h:6380/7?ssl_cert_reqs=none"),
        ("redis://h/2?db=4", 4, "redis://h/7"),
        ("unix:///tmp/r.sock?db=1", 1, "unix:///tmp/r.sock?db=7"),
        ("unix:///tmp/r.sock", 0, "unix:///tmp/r.sock?db=7"),
        ("embedded://var/redis", 0, "embedded://var/redis?db=7"),
        ("embedded:///abs/redis?db=2", 2, "embedded:///abs/redis?db=7"),
    ],
)
def test_urls_get_and_change_their_database(url, db, moved):
    assert url_db(url) == db
    assert with_db(url, 7) == moved
    assert url_db(moved) == 7


def test_blocked_error_is_exported_and_a_limpyd_runtime_error():
    assert limpyd_test.DatabaseAccessBlocked is DatabaseAccessBlocked
    assert issubclass(DatabaseAccessBlocked, LimpydException)
    assert issubclass(DatabaseAccessBlocked, RuntimeError)
    assert set(limpyd_test.__all__) >= {"TestCase", "TransactionTestCase", "SimpleTestCase"}
    for name in limpyd_test.__all__:
        assert getattr(limpyd_test, name) is not None


def test_blocker_blocks_until_released_and_lets_through_what_was_asked():
    blocker = AccessBlocker()
    default, other = RedisDatabase.for_alias("default"), RedisDatabase.for_alias("other")
    hand_built = RedisDatabase(port=1)
    original = RedisDatabase.__dict__["connection"]
    with blocker.block():
        assert RedisDatabase.__dict__["connection"] is not original
        with pytest.raises(DatabaseAccessBlocked, match=r"not allowed in this test.*'default'"):
            default.connection  # noqa: B018
        with pytest.raises(DatabaseAccessBlocked, match="hand-built RedisDatabase"):
            hand_built.connection  # noqa: B018
        with blocker.unblock(["default"]):
            assert default.connection is not None  # built, not connected
            assert hand_built.connection is not None
            with pytest.raises(DatabaseAccessBlocked, match=r"asked only for 'default'"):
                other.connection  # noqa: B018
        hold = blocker.unblock()
        assert other.connection is not None
        hold.release()
        hold.release()  # twice is harmless
        assert not blocker.allows("other")
    assert RedisDatabase.__dict__["connection"] is original
    assert blocker.allows("other") and not blocker.is_blocked
    for database in (default, other, hand_built):
        database.close()


def test_test_databases_of_the_session_are_active():
    test_databases = active()
    assert test_databases is not None
    url = test_databases.locations()["default"]
    kwargs = django_limpyd.databases["default"].connection.connection_pool.connection_kwargs
    assert (kwargs["path"], kwargs["db"]) == (url.partition("?")[0][len("unix://") :], 0)


def test_a_test_overriding_a_location_gets_it_then_the_test_location_comes_back(redis_server):
    db = django_limpyd.databases["default"]
    db.connection.set("k", "test location")
    entries = django_limpyd.databases.settings
    options_only = {**entries, "default": {**entries["default"], "OPTIONS": {"READ_RETRIES": 0}}}
    with override_settings(LIMPYD_DATABASES=options_only):
        assert db.connection.get("k") == "test location"  # same LOCATION: same test db
    elsewhere = {"default": {"LOCATION": with_db(redis_server.url, 6)}}
    with override_settings(LIMPYD_DATABASES=elsewhere):
        assert db.connection.get("k") is None
        assert db.connection.connection_pool.connection_kwargs["db"] == 6
    assert db.connection.get("k") == "test location"


def test_without_test_databases_the_test_cases_say_how_to_get_them(monkeypatch):
    monkeypatch.setattr(isolation, "_active", None)
    with pytest.raises(ImproperlyConfigured, match=r"X needs.*django_limpyd\.test\.runner"):
        isolation.require_active("X")


def test_test_db_numbers_too_close_for_the_workers_are_refused_before_any_connection():
    entries = {
        "default": {"LOCATION": "redis://127.0.0.1:1/0", "TEST": {"DB": 3}},
        "other": {"LOCATION": "redis://127.0.0.1:1/1", "TEST": {"DB": 4}},
    }
    with override_settings(LIMPYD_DATABASES=entries):
        plan = TestDatabases(workers=2)
        with pytest.raises(
            ImproperlyConfigured, match=r"127\.0\.0\.1:1/4 would serve.*at least 3 apart"
        ):
            plan.setup()
    assert active() is not None  # the session's are still in place


@pytest.fixture
def session_databases() -> Iterator[TestDatabases]:
    """The session's test databases, active again after a test that set up its own."""
    session = active()
    assert session is not None and session.slot is not None
    slot = session.slot
    yield session
    session.activate(slot)


def test_a_run_starts_its_own_server_which_accepts_the_password_of_the_options(
    session_databases,
):
    entries = {"default": {"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"PASSWORD": "s3"}}}
    with override_settings(LIMPYD_DATABASES=entries):
        plan = TestDatabases().setup()
        try:
            assert active() is plan and plan.server is not session_databases.server
            database = django_limpyd.databases["default"]
            database.connection.set("k", "v")  # AUTH with the PASSWORD of OPTIONS
            anonymous = plan.server.client()
            with pytest.raises(redis.AuthenticationError):
                anonymous.get("k")
            anonymous.close()
            directory = plan.server.directory
        finally:
            plan.teardown()
        assert not directory.exists()  # stopped and removed
    assert django_limpyd.databases["default"].connection.get("k") is None  # the session's db
