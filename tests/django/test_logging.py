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
    assert "HGET {shop:Person}:h:1 name; 1 call; alias=default" in records[-1].getMessage()


def test_commands_follow_debug_and_are_silent_by_default(caplog):
    with caplog.at_level(logging.DEBUG, logger="django_limpyd.commands"):
        Person(name="Ann")
        with override_settings(DEBUG=True):
            Person(name="Bob")
    records = [r for r in caplog.records if r.name == "django_limpyd.commands"]
    assert len(records) == 1
    assert records[0].getMessage().endswith(") create shop.Person pk=auto; 1 call; alias=default")


def logged(caplog, action):
    """The messages logged while running ``action()``."""
    caplog.clear()
    with (
        override_settings(LIMPYD_LOG_COMMANDS=True),
        caplog.at_level(logging.DEBUG, logger="django_limpyd.commands"),
    ):
        action()
    messages = [r.getMessage() for r in caplog.records if r.name == "django_limpyd.commands"]
    return [message.partition(") ")[2] for message in messages]  # without the duration


def test_one_readable_line_per_operation_never_the_plan_nor_the_code(caplog):
    from tests.apps.blog.redis_models import Author

    person = None

    def create():
        nonlocal person
        person = Person(name="Ann", city="Paris")

    assert logged(caplog, create) == ["create shop.Person pk=auto; 1 call; alias=default"]
    assert logged(caplog, lambda: person.name.hset("Bob")) == [
        "write shop.Person.name pk=1 HSET; 1 call; alias=default"
    ]
    author = Author(name="Zoe", tags=["a"])
    assert logged(caplog, lambda: author.tags.sadd("b")) == [
        "write blog.Author.tags pk=1 SADD; 1 call; alias=default"
    ]
    query = Author.collection(name="Zoe", birth_year__gte=1900).sort(by="-birth_year")
    (line,) = logged(caplog, lambda: list(query))
    assert line == (
        "collection blog.Author filters=name=Zoe,birth_year:num[1900.0,+inf] "
        "sort=-birth_year; 1 call; alias=default"
    )

    def pipelined():
        with Person._meta.database.pipeline() as pipe:
            person.city.hset("Lyon")
            person.name.hget()
            pipe.execute()

    (line,) = logged(caplog, pipelined)
    assert "write shop.Person.city pk=1 HSET | " in line and "calls; alias=default" in line
    assert logged(caplog, person.delete) == ["delete shop.Person pk=1; 1 call; alias=default"]
    everything = str(caplog.records)
    assert '"filters"' not in everything and "register_function" not in everything


def test_code_is_summarized():
    from django_limpyd.log_format import describe_command

    assert describe_command(("FUNCTION", "LOAD", "REPLACE", "#!lua name=x\n" + "x" * 50)) == (
        "FUNCTION LOAD (70 bytes of code)"
    )
    assert describe_command(("EVAL", "return 1", 0)) == "EVAL (9 bytes of code)"
    assert describe_command(("FUNCTION", "LIST")) == "FUNCTION LIST"
    assert describe_command(("EVALSHA", "abc", 1, "{shop:Person}:pks", "delete", "7")) == (
        "delete shop.Person pk=7"
    )
    assert describe_command(("GET", "x" * 300)) == "GET " + "x" * 197 + "..."
    # a model outside the registry (a hand-built database) is named by its key prefix
    assert describe_command(("FCALL", "lib_delete", 1, "{ns:Thing}:pks", "4")) == (
        "delete {ns:Thing} pk=4"
    )
