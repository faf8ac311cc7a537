"""``LimpydCommand``: shared options, help texts, errors, progress."""

from __future__ import annotations

import pytest
from django.core.management import load_command_class
from django.core.management.base import CommandError
from django.test import override_settings

from django_limpyd.database import RedisDatabase
from django_limpyd.management.base import LimpydCommand, Progress, model_alias
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import run

OPTIONS = {
    "limpyd_scan": ["--database", "--match", "--count", "--model", "--type", "--ttl"],
    "limpyd_flush": ["app_label.ModelName", "--database", "--noinput", "--no-input", "--dry-run"],
    "limpyd_models": ["--database", "--memory"],
    "limpyd_functions": [
        "{list,prune,load}",
        "--database",
        "--noinput",
        "--no-input",
        "--dry-run",
        "older deployment",
    ],
    "limpyd_index": [
        "{rebuild,check}",
        "app_label.ModelName[.field]",
        "--database",
        "--repair",
        "--chunk-size",
    ],
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_is_documented(name):
    command = load_command_class("django_limpyd", name)
    assert isinstance(command, LimpydCommand) and command.help
    parser = command.create_parser("manage.py", name)
    text = " ".join(parser.format_help().split())
    assert " ".join(command.help.split()) in text
    for option in OPTIONS[name]:
        assert option in text
    for action in parser._actions:  # every argument, ours and Django's, has a help text
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
    assert "Choices: default, other." in text  # --database names the aliases


def test_model_alias_reads_without_connecting():
    assert model_alias(shop.Foo) == "default" and model_alias(crm.Contact) == "other"
    hand_built = type("X", (), {"database": RedisDatabase()})
    assert model_alias(hand_built) is None
    assert model_alias(type("Y", (), {})) == "default"


def test_a_model_on_a_database_outside_the_settings(monkeypatch):
    monkeypatch.setattr(shop.FooBar, "database", RedisDatabase())
    with pytest.raises(
        CommandError,
        match="shop.FooBar lives on the None database, not on "
        "'default': it uses a hand-built database",
    ):
        run("limpyd_flush", "shop.FooBar", interactive=False)


def test_unreachable_server_is_a_command_error(tmp_path):
    unreachable = {"default": {"LOCATION": f"unix://{tmp_path}/none.sock?db=0"}}
    with override_settings(LIMPYD_DATABASES=unreachable):
        with pytest.raises(CommandError, match="Cannot reach the Redis server of the 'default'"):
            run("limpyd_scan")
        with pytest.raises(CommandError) as error:
            run("limpyd_index", "check", "shop.Foo")  # no --database: the model's alias
        assert str(error.value).startswith("Cannot reach the Redis server of the 'default' ")
        assert "does LIMPYD_DATABASES['default'] point at it?" in str(error.value)


def test_progress_lines():
    class Fake:
        progress_every, verbosity = 5, 1

        class stderr:
            lines = []

            @classmethod
            def write(cls, text):
                cls.lines.append(text)

    progress = Progress(Fake, "m", "keys", 12)
    for _ in range(6):
        progress.advance(2)
    progress.finish()
    assert Fake.stderr.lines == [
        "m: 6/12 keys (50%)",
        "m: 10/12 keys (83%)",
        "m: 12/12 keys (100%)",
    ]
    silent = Progress(Fake, "n", "keys", None)
    silent.advance(3)
    silent.finish()  # under one step: nothing at all
    assert len(Fake.stderr.lines) == 3
