"""``"CACHE": alias`` reuses a django-redis cache whatever django-redis options it sets
(issue 21): the cache's own serializer/compressor/behaviour options are ignored, ours
are kept and checked, the entry's own unknown options are still refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import django_limpyd
from django_limpyd.checks import check_settings
from django_limpyd.settings_parser import parse_entry

#: every option django-redis 7 (and Django's cache framework) reads in a cache's OPTIONS
CACHE_OPTIONS = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
    "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
    "PICKLE_VERSION": -1,
    "IGNORE_EXCEPTIONS": True,
    "LOG_IGNORED_EXCEPTIONS": True,
    "CLOSE_CONNECTION": True,
    "REPLICA_READ_ONLY": False,
    "REDIS_CLIENT_CLASS": "redis.client.StrictRedis",
    "REVERSE_KEY_FUNCTION": "app.reverse_key",
    "MAX_ENTRIES": 1000,
    "CULL_FREQUENCY": 3,
    "A_CUSTOM_CLIENT_OPTION": object(),  # read by a custom CLIENT_CLASS
}


def cache(location: str = "redis://127.0.0.1:6379/2", **options: object) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {**CACHE_OPTIONS, **options},
        }
    }


def test_the_cache_options_of_django_redis_are_ignored_ours_kept():
    caches = cache(SOCKET_TIMEOUT=2, PASSWORD="secret")
    config = parse_entry("sessions", {"CACHE": "default"}, caches)
    assert config.location == "redis://127.0.0.1:6379/2"
    assert config.options["SOCKET_TIMEOUT"] == 2 and config.options["PASSWORD"] == "secret"
    assert not set(CACHE_OPTIONS) & set(config.options)


def test_the_entry_own_options_are_still_checked():
    entry = {"CACHE": "default", "OPTIONS": {"PICKLE_VERSION": -1}}
    with pytest.raises(ImproperlyConfigured, match=r"\['OPTIONS'\] has an unknown key 'PICKLE"):
        parse_entry("sessions", entry, cache())
    config = parse_entry("s", {"CACHE": "default", "OPTIONS": {"SOCKET_TIMEOUT": 1}}, cache())
    assert config.options["SOCKET_TIMEOUT"] == 1


def test_a_connection_option_of_the_cache_with_a_wrong_type_is_refused():
    with pytest.raises(ImproperlyConfigured, match=r"\['SOCKET_TIMEOUT'\] must be a Real"):
        parse_entry("sessions", {"CACHE": "default"}, cache(SOCKET_TIMEOUT="2"))
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h/0"}}
    caches["default"]["OPTIONS"] = ["SOCKET_TIMEOUT"]
    with pytest.raises(ImproperlyConfigured, match=r"CACHES\['default'\]\['OPTIONS'\] must be"):
        parse_entry("sessions", {"CACHE": "default"}, caches)


def test_a_reused_django_redis_7_cache_passes_the_checks_and_connects(redis_server):
    caches = cache(redis_server.url)
    with override_settings(CACHES=caches, LIMPYD_DATABASES={"default": {"CACHE": "default"}}):
        assert check_settings() == []
        connection = django_limpyd.databases["default"].connection
        connection.set("k", "v")
        assert connection.get("k") == "v"
