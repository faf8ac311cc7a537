"""The commands on a sharded model (``events.Ticket``: 4 shards, a unique field):
dump and load keep pks, shards and reservations; ``limpyd_index check --repair``
resolves an interrupted unique write; flush and scan cover every shard."""

from __future__ import annotations

import json

import pytest
from django.core.management.base import CommandError

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.sharding import unique
from tests.apps.events.redis_models import Ticket
from tests.management.conftest import run


def _tickets(count=12):
    return [Ticket(code=f"t{n}", kind="ab"[n % 2], price=str(n)) for n in range(count)]


def test_dump_flush_load_round_trip(tmp_path):
    created = _tickets()
    before = {t.pk.get(): (t.code.hget(), t.kind.hget(), t.price.get()) for t in created}
    path = tmp_path / "tickets.json"
    run("limpyd_dump", "events.Ticket", output=str(path))
    dumped = json.loads(path.read_text())
    assert {item["model"] for item in dumped} == {"events.ticket"}
    assert sorted(item["pk"] for item in dumped) == sorted(before)
    with pytest.raises(CommandError, match="nothing was loaded"):
        run("limpyd_load", str(path))
    run("limpyd_flush", "events.Ticket", interactive=False)
    # only the AutoPK counters stay (as for any model: pks are never given twice)
    assert all(key.endswith(":max") for key in Ticket.scan_model_keys())
    assert len(Ticket.collection()) == 0
    run("limpyd_load", str(path))
    after = {
        pk: (Ticket(pk).code.hget(), Ticket(pk).kind.hget(), Ticket(pk).price.get())
        for pk in before
    }
    assert after == before
    for pk in before:  # each instance back in the shard of its pk
        assert type(Ticket(pk)) is Ticket._meta.shard_model_of(pk)
    with pytest.raises(UniquenessError):  # the loaded values are reserved again
        Ticket(code="t3")
    assert Ticket(kind="a").pk.get() not in before  # the counters follow the loaded pks
    assert consistency_check(Ticket) == []


def test_check_repair_resolves_an_interrupted_unique_write():
    _tickets(4)
    reserved = unique._Reserved(Ticket._meta.shard_models[0])
    reserved.reserve(Ticket._meta.database.connection, {"code": "stuck"}, None)
    with pytest.raises(CommandError, match="1 difference remains"):
        run("limpyd_index", "check", "events.Ticket")
    problems = consistency_check(Ticket)
    assert len(problems) == 1 and "pending reservation of 'stuck'" in problems[0]
    result = run("limpyd_index", "check", "events.Ticket", repair=True)
    assert "events.Ticket reservations: 1 reservation resolved." in result.stdout
    assert "events.Ticket reservations: OK after repair" in result.stdout
    Ticket(code="stuck")


def test_scan_lists_the_keys_of_every_shard():
    _tickets(8)
    result = run("limpyd_scan", model="events.Ticket")
    keys = result.stdout.split()
    assert keys and len(keys) == len(list(Ticket.scan_model_keys()))
    prefixes = {shard._meta.keys.prefix for shard in Ticket._meta.shard_models}
    assert {key.split("}:", 1)[0] + "}" for key in keys} == prefixes
