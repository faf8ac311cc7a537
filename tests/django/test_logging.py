"""Command logging on the django_limpyd.commands logger."""

import logging

from django.test import override_settings

from tests.apps.shop.redis_models import Person


def test_commands_are_logged_with_the_setting(caplog):
    with (
        override_settings(LIMPYD_LOG_COMMANDS=True),
        caplog.at_level(logging.DEBUG, logger="django_limpyd.commands"),
    ):
        Person(name="Ann").name.hget()
    records = [r for r in caplog.records if r.name == "django_limpyd.commands"]
    assert [r.commands[0][0] for r in records][-2:] in (["FCALL", "HGET"], ["EVALSHA", "HGET"])
    assert all(r.alias == "default" and r.duration >= 0 for r in records)
    assert "HGET {shop:Person}:h:1 name; alias=default" in records[-1].getMessage()


def test_commands_follow_debug_and_are_silent_by_default(caplog):
    with caplog.at_level(logging.DEBUG, logger="django_limpyd.commands"):
        Person(name="Ann")
        with override_settings(DEBUG=True):
            Person(name="Bob")
    records = [r for r in caplog.records if r.name == "django_limpyd.commands"]
    assert len(records) == 1
    assert any(name in records[0].getMessage() for name in ("FCALL", "EVALSHA"))
