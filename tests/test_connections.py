import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import django_limpyd
from django_limpyd.exceptions import DatabaseNotConfigured


def test_databases_handler_connects_lazily_and_decodes():
    db = django_limpyd.databases["default"]
    assert db is django_limpyd.databases["default"]
    db.connection.set("k", "v")
    assert db.connection.get("k") == "v"


def test_unknown_alias_names_it():
    with pytest.raises(DatabaseNotConfigured, match=r"'nope'.*LIMPYD_DATABASES"):
        django_limpyd.databases["nope"]


def test_setting_change_resets_connection(redis_server):
    db = django_limpyd.databases["default"]
    db.connection.set("k", "v")
    other = redis_server.url.replace("db=0", "db=2")
    with override_settings(LIMPYD_DATABASES={"default": {"LOCATION": other}}):
        assert db.connection.get("k") is None
    assert db.connection.get("k") == "v"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"LOCATION": "http://x"}, "LOCATION.*'http://x'"),
        ({"LOCATION": 12}, "LOCATION.*12"),
        ({"LOCATION": "redis://h:port/0"}, "cannot be parsed"),
        ({"LOCATION": "redis://h/0", "OPTIONS": {"BOGUS": 1}}, "unknown key 'BOGUS'"),
        ({"LOCATION": "redis://h/0", "OPTIONS": {"SOCKET_TIMEOUT": "5"}}, "SOCKET_TIMEOUT"),
        ({"LOCATION": "redis://h/0", "FOO": 1}, "unknown key"),
        ({"CACHE": "missing"}, "CACHE.*'missing'"),
        ({"CACHE": "locmem"}, "only django-redis caches"),
        (
            {"LOCATION": "redis://h/0", "OPTIONS": {"CONNECTION_POOL_KWARGS": {"retry": 1}}},
            "manages itself",
        ),
    ],
)
def test_bad_entries_raise_improperly_configured(entry, message):
    caches = {"locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with (
        override_settings(LIMPYD_DATABASES={"bad": entry}, CACHES=caches),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        django_limpyd.databases["bad"].connection.ping()


def test_cache_entry_is_reused_with_its_own_decoding_pool(redis_server):
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    with override_settings(CACHES=caches, LIMPYD_DATABASES={"sessions": {"CACHE": "default"}}):
        from django.core.cache import caches as django_caches

        django_caches["default"].set("cached", 1)
        db = django_limpyd.databases["sessions"]
        db.connection.set("k", "v")
        assert db.connection.get("k") == "v"
        raw = django_caches["default"].client.get_client()
        assert raw.get("k") == b"v"
        assert raw.connection_pool is not db.connection.connection_pool
