"""System checks: each id triggered, and a clean project has none."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_limpyd import fields, registry
from django_limpyd.checks import check_embedded, check_models, check_servers, check_settings
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel


@pytest.fixture
def in_app():
    """Define models in the test apps for one test only."""
    made = []

    def define(app, name, **attrs):
        attrs.setdefault("__module__", f"tests.apps.{app}.redis_models")
        model = type(name, (RedisModel,), attrs)
        made.append(model)
        return model

    yield define
    for model in made:
        registry.unregister(model)


def ids(messages):
    return sorted(message.id for message in messages)


def test_the_test_project_passes_every_check():
    assert check_settings() == []
    assert check_models() == []
    call_command("check")


def test_e001_no_default_database(redis_server):
    with override_settings(LIMPYD_DATABASES={"main": {"LOCATION": redis_server.url}}):
        assert ids(check_settings()) == ["limpyd.E001"]


def test_e002_invalid_entry(redis_server):
    bad = {"default": {"LOCATION": redis_server.url}, "broken": {"LOCATION": "http://x"}}
    with override_settings(LIMPYD_DATABASES=bad):
        messages = check_settings()
    assert ids(messages) == ["limpyd.E002"]
    assert "LIMPYD_DATABASES['broken']['LOCATION']" in messages[0].msg


def test_e003_unknown_alias(in_app):
    in_app("shop", "Lost", database="nowhere")
    messages = check_models()
    assert ids(messages) == ["limpyd.E003"]
    assert "shop.Lost uses the database 'nowhere'" in messages[0].msg


def test_e004_models_sharing_keys(in_app):
    in_app("shop", "Twin", namespace="same")
    in_app("crm", "Twin", namespace="same")
    messages = check_models()
    assert ids(messages) == ["limpyd.E004"]
    assert "shop.Twin, crm.Twin would share keys" in messages[0].msg


def test_e005_unique_without_enforcing_index(in_app):
    index = EqualIndex.configure(handle_uniqueness=False)
    model = in_app("shop", "Loose", code=fields.StringField(unique=True, indexes=[index]))
    assert ids(check_models()) == ["limpyd.E005"]
    with pytest.raises(Exception, match="none of its indexes handles uniqueness"):
        model(code="x")


def test_e007_unreachable_server_only_with_database_tag(redis_server):
    unreachable = {
        "default": {"LOCATION": redis_server.url},
        "other": {"LOCATION": redis_server.url},
        "down": {"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1}},
    }
    with override_settings(LIMPYD_DATABASES=unreachable):
        assert check_servers() == []
        messages = check_servers(databases=["default"])
        assert ids(messages) == ["limpyd.E007"]
        assert "'down' cannot be reached" in messages[0].msg
        call_command("check")  # not run without --database
        with pytest.raises(SystemCheckError, match="limpyd.E007"):
            call_command("check", "--database", "default")


def test_checks_are_registered_with_the_limpyd_tag():
    assert "limpyd" in checks.registry.registry.tags_available()


def test_e002_an_embedded_db_out_of_range(redis_server, tmp_path):
    bad = {
        "default": {"LOCATION": redis_server.url},
        "local": {"LOCATION": f"embedded://{tmp_path}/redis?db=99"},
    }
    with override_settings(LIMPYD_DATABASES=bad):
        messages = check_settings()
    assert ids(messages) == ["limpyd.E002"]
    assert messages[0].msg == (
        f"LIMPYD_DATABASES['local']['LOCATION'] = 'embedded://{tmp_path}/redis?db=99': The "
        f"embedded location 'embedded://{tmp_path}/redis?db=99' has db=99; db must be an "
        "integer from 0 to 15."
    )
    assert not (tmp_path / "redis").exists()


def test_e008_an_embedded_location_without_a_usable_redis_server(redis_server, tmp_path):
    entries = {
        "default": {"LOCATION": redis_server.url},
        "local": {
            "LOCATION": f"embedded://{tmp_path}/redis",
            "TEST": {"LOCATION": f"embedded://{tmp_path}/test"},
        },
    }
    with override_settings(LIMPYD_DATABASES=entries):
        assert check_embedded() == []
        with override_settings(LIMPYD_REDIS_SERVER="/nonexistent/redis-server"):
            messages = check_embedded()
            with pytest.raises(SystemCheckError, match="limpyd.E008"):
                call_command("check")
    assert ids(messages) == ["limpyd.E008", "limpyd.E008"]
    assert messages[0].msg == (
        f"LIMPYD_DATABASES['local']['LOCATION'] = 'embedded://{tmp_path}/redis' cannot be "
        "served: LIMPYD_REDIS_SERVER = '/nonexistent/redis-server' is not an executable "
        "redis-server (no such file). Set it to the path of a redis-server binary, or remove "
        "it to use the redis-server on PATH (or the one of the 'embedded' extra)."
    )
    assert messages[1].msg.startswith("LIMPYD_DATABASES['local']['TEST']['LOCATION'] = ")
    assert list(tmp_path.iterdir()) == []  # nothing started, no directory, no lock file


def test_e008_a_socket_path_too_long(redis_server, tmp_path):
    deep = tmp_path / ("d" * 120)
    entries = {"default": {"LOCATION": f"embedded://{deep}"}}
    with override_settings(LIMPYD_DATABASES=entries):
        (message,) = check_embedded()
    assert message.id == "limpyd.E008" and "bytes long; this platform allows" in message.msg
