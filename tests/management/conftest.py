"""Data for the command tests: prefix-sharing models, two ``Person`` models, a
model on the ``other`` database, and values and pks holding glob characters."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import redis
from django.core.management import call_command

from django_limpyd import fields, registry
from django_limpyd.model import RedisModel
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop

#: values and pks with every glob character (and ``:``)
GLOBBY = ["a*b", "a?c", "abc", "[ab]", "{x}", "x}:y", "\\*", "plain"]


class Result:
    """What a command wrote."""

    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout = stdout
        self.stderr = stderr

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run(command: Any, *args: Any, **options: Any) -> Result:
    """``call_command`` capturing stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return Result(out.getvalue(), err.getvalue())


@pytest.fixture
def tag_model() -> Iterator[type]:
    """``shop.Tag``: pks given by the caller, defined in the ``shop`` app for one test."""
    model = type(
        "Tag",
        (RedisModel,),
        {
            "__module__": "tests.apps.shop.redis_models",
            "pk": fields.PKField(),
            "label": fields.StringField(indexable=True),
        },
    )
    yield model
    registry.unregister(model)


@pytest.fixture
def data(tag_model: type) -> dict[str, Any]:
    """Instances of every test model, with glob characters in values and pks."""
    foos = [shop.Foo(value=value) for value in GLOBBY]
    foobars = [shop.FooBar(value=value) for value in GLOBBY]
    tags = [tag_model(pk=value, label=value) for value in GLOBBY]
    people = [shop.Person(name=f"n{value}", city=value) for value in GLOBBY[:3]]
    crm_people = [crm.Person(email=f"{value}@example.com", visits="1") for value in GLOBBY[:3]]
    contacts = [crm.Contact(person=value) for value in GLOBBY]
    return {
        "foos": foos,
        "foobars": foobars,
        "tags": tags,
        "people": people,
        "crm_people": crm_people,
        "contacts": contacts,
    }


@pytest.fixture
def raw(redis_server: Any) -> Iterator[dict[int, redis.Redis]]:
    """Undecoded clients of db 0 and db 1 (DUMP returns bytes)."""
    clients = {db: redis.Redis(**redis_server.connection_kwargs(), db=db) for db in (0, 1)}
    yield clients
    for client in clients.values():
        client.close()


def keys_of(client: redis.Redis, model: type) -> set[str]:
    """The keys of ``model``, found without SCAN patterns: every key, filtered by prefix."""
    prefix = (model._meta.keys.prefix + ":").encode()
    return {key.decode() for key in client.keys("*") if key.startswith(prefix)}


def dump_all(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key of the client's db with its DUMP."""
    return {key: client.dump(key) for key in client.keys("*")}
