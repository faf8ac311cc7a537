"""``limpyd_expire``: removes the expired instances of models with expiry, with signals."""

from __future__ import annotations

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
