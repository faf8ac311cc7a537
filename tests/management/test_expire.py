"""``limpyd_expire``: removes the expired instances of models with expiry, with signals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.core.management.base import CommandError

from django_limpyd import fields, registry, signals
from django_limpyd.consistency import consistency_check
from django_limpyd.management.commands import limpyd_expire
from django_limpyd.model import RedisModel
from tests.apps.shop import redis_models as shop
from tests.management.conftest import run


@pytest.fixture
def Token() -> Iterator[type]:
    """``shop.Token``: a model with expiry, defined in the ``shop`` app for one test."""
    model = type(
        "Token",
        (RedisModel,),
        {
            "__module__": "tests.apps.shop.redis_models",
            "ttl": 60,
            "value": fields.InstanceHashField(unique=True),
        },
    )
    yield model
    registry.unregister(model)


def passed(model, *instances):
    """Deadlines in the past, without any cleanup."""
    connection = model._meta.database.connection
    connection.zadd(model._meta.keys.expiry, {instance.pk.get(): 1 for instance in instances})


def test_removes_expired_instances_of_every_model_with_expiry(Token):
    tokens = [Token(value=f"v{i}") for i in range(5)]
    passed(Token, *tokens[:3])
    removed = []

    def receiver(sender, instance, expired=False, **kwargs):
        removed.append((instance.pk.get(), expired))

    signals.post_delete.connect(receiver, sender=Token)
    try:
        result = run("limpyd_expire")
    finally:
        signals.post_delete.disconnect(receiver, sender=Token)
    assert result.lines == [
        "shop.Token: 3 expired instances removed.",
        "Removed 3 expired instances from 1 model(s) with expiry.",
    ]
    assert sorted(removed) == [("1", True), ("2", True), ("3", True)]
    assert sorted(Token.collection()) == ["4", "5"]
    assert consistency_check(Token) == []
    assert run("limpyd_expire", "shop.Token").lines == [
        "Removed 0 expired instances from 1 model(s) with expiry."
    ]


def test_limit_and_every(Token, monkeypatch):
    tokens = [Token(value=f"v{i}") for i in range(5)]
    passed(Token, *tokens)
    assert run("limpyd_expire", "shop.Token", limit=2).lines[0] == (
        "shop.Token: 2 expired instances removed."
    )
    monkeypatch.setattr(limpyd_expire.Command, "max_rounds", 2)
    monkeypatch.setattr(limpyd_expire.time, "sleep", lambda seconds: None)
    lines = run("limpyd_expire", "shop.Token", every=0.5).lines
    assert lines == [
        "shop.Token: 3 expired instances removed.",
        "Removed 3 expired instances from 1 model(s) with expiry.",
        "Removed 0 expired instances from 1 model(s) with expiry.",
    ]


def test_errors(Token):
    with pytest.raises(CommandError, match="shop.Person has no expiry"):
        run("limpyd_expire", "shop.Person")
    with pytest.raises(CommandError, match="--limit must be a positive integer"):
        run("limpyd_expire", limit=0)
    with pytest.raises(CommandError, match="--every must be a positive number"):
        run("limpyd_expire", every=-1.0)
    assert shop.Person._meta.expirable is False


def test_limpyd_models_counts_live_instances_only(Token):
    tokens = [Token(value=f"v{i}") for i in range(5)]

    def token_row():
        return next(line for line in run("limpyd_models").lines if " Token " in line)

    assert token_row().split()[4] == "5"
    passed(Token, *tokens[:2])  # not cleaned up yet: not counted as instances
    row = token_row()
    assert row.split()[4] == "3" and "3 (+2 expired, awaiting cleanup)" in row
    Token.delete_expired()
    assert token_row().split()[4:6] == ["3", str(len(list(Token.scan_model_keys())))]


def test_dump_and_load_keep_deadlines(Token, tmp_path):
    connection = Token._meta.database.connection
    soon = Token(value="soon", ttl=30)
    later = Token(value="later", ttl=3000)
    forever = Token(value="forever", ttl=None)
    gone = Token(value="gone")
    passed(Token, gone)  # expired, not cleaned up: not dumped
    before = dict(connection.zrange(Token._meta.keys.expiry, 0, -1, withscores=True))
    path = tmp_path / "tokens.json"
    run("limpyd_dump", "shop.Token", output=str(path))
    objects = {item["pk"]: item for item in json.loads(path.read_text())}
    assert sorted(objects) == sorted([soon.pk.get(), later.pk.get(), forever.pk.get()])
    assert objects[soon.pk.get()]["expires_at"] == before[soon.pk.get()]
    assert objects[forever.pk.get()]["expires_at"] is None

    connection.flushdb()
    # an object whose deadline passed since the dump is skipped; one without
    # "expires_at" (written by hand) takes the model's default
    data = json.loads(path.read_text())
    data.append({"model": "shop.token", "pk": "50", "fields": {"value": "old"}, "expires_at": 1})
    data.append({"model": "shop.token", "pk": "51", "fields": {"value": "default"}})
    path.write_text(json.dumps(data))
    assert run("limpyd_load", str(path)).lines == ["Installed 4 objects."]
    after = dict(connection.zrange(Token._meta.keys.expiry, 0, -1, withscores=True))
    for instance in (soon, later):
        assert after[instance.pk.get()] == pytest.approx(before[instance.pk.get()], abs=200)
    assert forever.pk.get() not in after
    assert Token(forever.pk.get()).ttl() == -1
    assert 59 <= Token("51").ttl() <= 60
    assert sorted(Token.collection()) == sorted(
        [soon.pk.get(), later.pk.get(), forever.pk.get(), "51"]
    )
    assert consistency_check(Token) == []


def test_load_refuses_bad_deadlines(Token, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"model": "shop.token", "pk": "1", "expires_at": "soon"}]))
    with pytest.raises(CommandError, match="'expires_at' must be a unix time in ms or null"):
        run("limpyd_load", str(path))
    path.write_text(json.dumps([{"model": "shop.foo", "pk": "1", "expires_at": 1}]))
    with pytest.raises(CommandError, match="the model has no expiry"):
        run("limpyd_load", str(path))
