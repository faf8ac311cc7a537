"""Keyspace: ``scan_model_keys()``, ``limpyd_scan --model`` and ``limpyd_flush`` of a
model see and touch exactly its keys.

The neighbours of ``shop.Foo``: ``shop.FooBar`` (a name it prefixes), ``Foo``
in other namespaces (the ``crm`` app, ``""``, namespaces holding ``:``, ``}``,
``{`` or glob characters), values and pks full of glob characters, and keys
written by hand that look like Foo's. The keys each model owns are found by
diffing the key space around its writes (not by prefix), and every other key
must stay byte-identical (``DUMP``) through a flush.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import redis
from django.core.management import call_command

import django_limpyd
from django_limpyd import fields, registry
from django_limpyd.management.commands.limpyd_scan import show_key
from django_limpyd.model import RedisModel
from tests.apps.shop import redis_models as shop
from tests.reliability.helpers import Snapshot, snapshot, summary
from tests.reliability.models import DATABASE

pytestmark = pytest.mark.timeout(60)

#: values and pks: glob characters, separators, other models' prefixes
GLOBBY = [
    "*",
    "?",
    "[a-z]",
    "[^x]",
    "\\*",
    "a*b?c",
    "{shop:FooBar}:*",
    "{shop:Foo}:x",
    "}:*",
    "{",
    ":pks",
    "line\nbreak",
]

#: keys written by hand that a loose pattern for shop.Foo would match
ROGUE_KEYS = [
    "{shop:Foo}",
    "{shop:Foo}x",
    "{shop:Foo}*",
    "{shop:Foo}pks",
    "{shop:Foo\\}:pks",
    "{shop:Fo}:pks",
    "{shop:Fooo}:pks",
    "{shop:foo}:pks",
    "shop:Foo:pks",
    "{shop:Foo",
    "x{shop:Foo}:pks",
    "{{shop:Foo}}:pks",
]


def neighbour(namespace: str) -> type:
    """A model named ``Foo`` in ``namespace``, outside apps, on :data:`DATABASE`."""
    return type(
        "Foo",
        (RedisModel,),
        {
            "__module__": __name__,
            "__qualname__": f"Foo[{namespace!r}]",
            "database": DATABASE,
            "namespace": namespace,
            "value": fields.StringField(indexable=True),
            "tags": fields.SetField(indexable=True),
        },
    )


NEIGHBOURS = [
    neighbour(namespace)
    for namespace in ("", "shop:Foo", "shop}", "{shop", "sho", "s*[x]?", "s[x]x", "shop:")
]


@pytest.fixture
def app_models() -> Iterator[dict[str, type]]:
    """``crm.Foo`` (Foo in another app namespace) and ``shop.Globby`` (glob pks)."""
    crm_foo = type(
        "Foo",
        (RedisModel,),
        {
            "__module__": "tests.apps.crm.redis_models",
            "value": fields.StringField(indexable=True),
        },
    )
    globby = type(
        "Globby",
        (RedisModel,),
        {
            "__module__": "tests.apps.shop.redis_models",
            "pk": fields.PKField(),
            "value": fields.StringField(indexable=True),
        },
    )
    yield {"crm.Foo": crm_foo, "shop.Globby": globby}
    for model in (crm_foo, globby):
        registry.unregister(model)


@pytest.fixture
def raw() -> Iterator[redis.Redis]:
    """Undecoded client of the ``default`` alias's database; DATABASE points there too."""
    kwargs = django_limpyd.databases["default"].connection.connection_pool.connection_kwargs
    where = {k: kwargs[k] for k in ("host", "port", "path", "db") if k in kwargs}
    if "path" in where:
        where["unix_socket_path"] = where.pop("path")
    DATABASE.connect(**where)
    client = redis.Redis(**where)
    yield client
    client.close()
    DATABASE.close()


def fill(model: type, pks: bool = False) -> None:
    for i, value in enumerate(GLOBBY):
        values: dict[str, Any] = {"value": value}
        if model.has_field("tags"):
            values["tags"] = [value, f"t{i}"]
        if pks:
            values["pk"] = value
        model(**values)


def owned_keys(raw: redis.Redis, models: dict[str, type]) -> dict[str, set[bytes]]:
    """Fill each model in turn; the keys each one added (found by diffing the key space)."""
    owned = {}
    for label, model in models.items():
        before = set(snapshot(raw))
        fill(model, pks=label == "shop.Globby")
        owned[label] = set(snapshot(raw)) - before
        assert owned[label], label
    return owned


def run(command: str, *args: Any, **options: Any) -> tuple[list[str], str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue().splitlines(), err.getvalue()


def decoded(keys: set[bytes]) -> set[str]:
    return {key.decode() for key in keys}


def without(state: Snapshot, keys: set[bytes]) -> Snapshot:
    return {key: value for key, value in state.items() if key not in keys}


@pytest.mark.timeout(60)
def test_scan_and_flush_touch_exactly_the_models_keys(raw, app_models):
    started = time.perf_counter()
    models = {
        "shop.Foo": shop.Foo,
        "shop.FooBar": shop.FooBar,
        **app_models,
        **{f"ns {model._meta.namespace!r}": model for model in NEIGHBOURS},
    }
    owned = owned_keys(raw, models)
    for key in ROGUE_KEYS:
        raw.set(key, "rogue")
    everything = snapshot(raw)
    # the keys of different models never meet
    labels = list(owned)
    for i, label in enumerate(labels):
        for other in labels[i + 1 :]:
            assert not owned[label] & owned[other], (label, other)

    # scan_model_keys(): exactly the model's own keys, for every model
    for label, model in models.items():
        assert set(model.scan_model_keys()) == decoded(owned[label]), label

    # limpyd_scan --model (alone, and with --match patterns that match neighbours too)
    foo = decoded(owned["shop.Foo"])
    lines, err = run("limpyd_scan", model="shop.Foo")
    assert sorted(lines) == sorted(show_key(key) for key in foo)
    assert err.strip() == f"{len(foo)} keys on the 'default' database."
    for pattern in ("*", "{shop:Foo*", "*Foo*", "*\\**"):
        lines, _err = run("limpyd_scan", model="shop.Foo", match=pattern)
        matched = decoded(set(raw.scan_iter(match=pattern, count=1000)))  # Redis's glob
        expected = {show_key(key) for key in foo & matched}
        assert set(lines) == expected, pattern
    lines, _err = run("limpyd_scan", model="shop.Globby")
    assert set(lines) == {show_key(key) for key in decoded(owned["shop.Globby"])}
    assert snapshot(raw) == everything  # scans write nothing

    # limpyd_flush: a dry run touches nothing, a flush only the model's keys
    # (--reset-pk: the AutoPK counter goes too, so that every key of the model goes)
    lines, _err = run("limpyd_flush", "shop.Foo", dry_run=True, reset_pk=True)
    assert f"shop.Foo: {len(foo)} keys" in "\n".join(lines)
    assert snapshot(raw) == everything
    run("limpyd_flush", "shop.Foo", interactive=False, reset_pk=True)
    assert snapshot(raw) == without(everything, owned["shop.Foo"])
    assert list(shop.Foo.scan_model_keys()) == []
    run("limpyd_flush", "crm.Foo", "shop.Globby", interactive=False, reset_pk=True)
    gone = owned["shop.Foo"] | owned["crm.Foo"] | owned["shop.Globby"]
    assert snapshot(raw) == without(everything, gone)
    for key in ROGUE_KEYS:
        assert raw.get(key) == b"rogue"
    summary(
        "keyspace",
        started,
        models=len(models),
        keys=len(everything),
        foo_keys=len(foo),
        rogue_keys=len(ROGUE_KEYS),
        flushed=len(gone),
    )
