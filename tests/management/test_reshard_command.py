"""``manage.py limpyd_reshard``: moves a model declared with ``resharding_from`` to its
new number of shards, says what it does, and refuses what it cannot do."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from django_limpyd import fields, registry
from django_limpyd.consistency import consistency_check
from django_limpyd.model import RedisModel
from tests.management.conftest import run


def _booking(shards: int, resharding_from: int | None = None) -> type:
    """``events.Booking``, declared again as a deploy would."""
    attrs = {
        "__module__": "tests.apps.events.redis_models",
        "__qualname__": "Booking",
        "shards": shards,
        "ref": fields.InstanceHashField(unique=True),
        "room": fields.InstanceHashField(indexable=True),
    }
    if resharding_from:
        attrs["resharding_from"] = resharding_from
    return type("Booking", (RedisModel,), attrs)


@pytest.fixture
def booking():
    yield _booking
    registry.unregister(registry.get_model("events.Booking"))


def test_the_command_moves_every_instance_with_progress(booking, monkeypatch):
    from django_limpyd.management.commands.limpyd_reshard import Command

    monkeypatch.setattr(Command, "progress_every", 10)
    Before = booking(2)
    pks = [Before(ref=f"r{n}", room=str(n % 5)).pk.get() for n in range(30)]
    During = booking(5, resharding_from=2)
    dry = run("limpyd_reshard", "events.Booking", dry_run=True)
    assert dry.stdout == (
        "Dry run: events.Booking: from 2 to 5 shards, 30 instances to move. Nothing was changed.\n"
    )
    assert len(During.collection()) == 30
    # the other commands see both layouts meanwhile
    models = run("limpyd_models")
    booking_row = next(line for line in models.lines if "Booking" in line).split()
    assert booking_row[4] == "30"  # instances, from the shards of both layouts
    checked = run("limpyd_index", "check", "events.Booking")
    assert "OK" in checked.stdout + checked.stderr
    result = run("limpyd_reshard", "events.Booking", batch=7)
    assert result.lines == [
        "events.Booking: from 2 to 5 shards, 30 instances to move.",
        f"Old layout closed: new instances go to the 5 new shards (AutoPK counters past "
        f"{max(int(pk) for pk in pks)}).",
        "Unique value reservations moved: 30.",
        "events.Booking: 30 instances moved; the old layout of 2 shards is empty. Deploy "
        "Booking without resharding_from (shards = 5).",
    ]
    assert "events.Booking: 30/30 instances moved (100%)" in result.stderr
    again = run("limpyd_reshard", "events.Booking")  # nothing left: says so
    assert "0 instances moved" in again.stdout
    with pytest.raises(CommandError, match="still being resharded"):
        run("limpyd_reshard", "events.Booking", forget=2)
    After = booking(5)
    with pytest.raises(CommandError, match="there is no old layout of 5"):
        run("limpyd_reshard", "events.Booking", forget=5)  # the layout the data is in
    forgot = run("limpyd_reshard", "events.Booking", forget=2)
    # 2 old counters, 2 moves marks, 5 ready flags
    assert forgot.stdout == (
        "events.Booking: the old layout of 2 shards is forgotten (9 keys deleted).\n"
    )
    assert sorted(After.collection(), key=int) == sorted(pks, key=int)
    assert After.get(ref="r7").room.hget() == "2"
    assert all(consistency_check(shard) == [] for shard in After._meta.shard_models)


def test_the_command_refuses_a_model_not_being_resharded(booking):
    booking(2)
    with pytest.raises(CommandError, match="is not being resharded: give it shards"):
        run("limpyd_reshard", "events.Booking")
    with pytest.raises(CommandError, match="Unknown Redis model"):
        run("limpyd_reshard", "events.Nothing")
    with pytest.raises(CommandError, match="batch"):
        run("limpyd_reshard", "events.Booking", batch=0)
