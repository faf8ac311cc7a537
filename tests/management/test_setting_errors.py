"""Settings found wrong on use are ``CommandError`` naming the alias and the key, in
every command (issue 21): an ``embedded://`` db out of range, a ``LIMPYD_REDIS_SERVER``
that is not a redis-server (no lock file left behind), an unreachable server met
while listing every model."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.test import override_settings

from tests.management.conftest import run

COMMANDS = [
    ("limpyd_models",),
    ("limpyd_scan",),
    ("limpyd_flush", "shop.Foo", "--noinput"),
    ("limpyd_index", "check"),
    ("limpyd_dump",),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_embedded_db_out_of_range(tmp_path, command):
    location = f"embedded://{tmp_path}/redis?db=99"
    with (
        override_settings(LIMPYD_DATABASES={"default": {"LOCATION": location}}),
        pytest.raises(CommandError) as error,
    ):
        run(*command)
    message = str(error.value)
    assert f"LIMPYD_DATABASES['default']['LOCATION'] = {location!r}: " in message
    assert "db must be an integer from 0 to 15." in message
    assert "LIMPYD_DATABASES['default']: LIMPYD_DATABASES" not in message  # said once
    assert not (tmp_path / "redis").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_redis_server_path_leaves_no_lock_file(tmp_path, command):
    location = f"embedded://{tmp_path}/redis"
    with (
        override_settings(
            LIMPYD_DATABASES={"default": {"LOCATION": location}},
            LIMPYD_REDIS_SERVER=str(tmp_path / "nope" / "redis-server"),
        ),
        pytest.raises(CommandError) as error,
    ):
        run(*command)
    message = str(error.value)
    assert f"LIMPYD_DATABASES['default']['LOCATION'] = {location!r}: " in message
    assert "is not an executable redis-server (no such file). Set it to the path" in message
    assert "pip install" not in message
    assert list(tmp_path.iterdir()) == []  # no directory, no lock file


def test_limpyd_models_lists_what_it_can_then_fails_naming_the_alias(tmp_path, redis_server):
    location = f"embedded://{tmp_path}/redis?db=99"
    entries = {"default": {"LOCATION": redis_server.url}, "other": {"LOCATION": location}}
    with override_settings(LIMPYD_DATABASES=entries), pytest.raises(CommandError) as error:
        run("limpyd_models")
    assert str(error.value) == (
        f"crm.Contact: LIMPYD_DATABASES['other']['LOCATION'] = {location!r}: The embedded "
        f"location {location!r} has db=99; db must be an integer from 0 to 15."
    )


def test_an_unreachable_server_met_while_listing_every_model_is_named(tmp_path):
    entries = {"default": {"LOCATION": f"unix://{tmp_path}/none.sock?db=0"}}
    with override_settings(LIMPYD_DATABASES=entries), pytest.raises(CommandError) as error:
        run("limpyd_models")
    assert str(error.value).startswith("Cannot reach the Redis server of the 'default' database")
    assert str(error.value).endswith("does LIMPYD_DATABASES['default'] point at it?")


def test_limpyd_embedded_start_names_the_alias_and_the_key(tmp_path):
    location = f"embedded://{tmp_path}/redis"
    with (
        override_settings(
            LIMPYD_DATABASES={"default": {"LOCATION": location}},
            LIMPYD_REDIS_SERVER=str(tmp_path / "nope"),
        ),
        pytest.raises(CommandError) as error,
    ):
        run("limpyd_embedded", "start")
    assert str(error.value).startswith(
        f"LIMPYD_DATABASES['default']['LOCATION'] = {location!r}: Cannot start the redis-server"
    )
    assert list(tmp_path.iterdir()) == []
