"""Durable writes on a real primary and replica (``redis-server --replicaof``).

Each write of a durable database is followed by ``WAIT`` on its connection, in the
same round trip: when it returns, the replica has it. A replica that does not
acknowledge in time (paused with SIGSTOP) makes the write raise DurabilityError,
the write staying applied on the primary and never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.durability import DurabilityError
from django_limpyd.model import RedisModel
from django_limpyd.settings_parser import parse_entry
from django_limpyd.test.commands import assert_num_commands
from tests.tools.servers import replicated_servers


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    with replicated_servers(tmp_path_factory.mktemp("durable"), timeout=10) as pair:
        yield pair


def make_model(database: RedisDatabase) -> type:
    class Ticket(RedisModel):
        namespace = "durable"
        code = fields.InstanceHashField(indexable=True, unique=True)
        notes = fields.StringField()

    Ticket.database = database
    Ticket._meta.register(database)
    return Ticket


def replica_client(replica: Any) -> redis.Redis:
    return redis.Redis(**replica.connection_kwargs(), decode_responses=True)


def test_a_durable_write_is_on_the_replica_when_it_returns(servers):
    primary, replica = servers
    database = RedisDatabase(
        **primary.connection_kwargs(), durability={"replicas": 1, "timeout": 2}
    )
    Ticket = make_model(database)
    reader = replica_client(replica)
    try:
        Ticket(code="warm-up")  # loads the library
        with assert_num_commands(2, database, round_trips=1) as commands:
            ticket = Ticket(code="a1")
        assert [c[0] for c in commands.commands][-1] == "WAIT"
        # no sleep: WAIT returned, so the replica has the instance and its index entry
        keys = Ticket._meta.keys
        assert reader.hget(keys.instance_hash(ticket.pk.get()), "code") == "a1"
        assert reader.zscore(keys.pks, ticket.pk.get()) is not None
        with assert_num_commands(2, database, round_trips=1):
            ticket.notes.set("plain command, durable too")
        assert reader.get(keys.field("notes", ticket.pk.get())) == "plain command, durable too"
        # reads do not wait
        with assert_num_commands(1, database):
            ticket.notes.get()
        # a pipeline waits once, after its EXEC
        with database.pipeline() as pipeline:
            for number in range(5):
                Ticket(code=f"p{number}")
            pipeline.execute()
        assert reader.zcard(keys.pks) == 7
        # durable(replicas=None): no WAIT inside the block
        with database.durable(replicas=None), assert_num_commands(1, database):
            ticket.notes.set("fast")
    finally:
        reader.close()
        database.close()


def test_a_write_not_confirmed_in_time_raises_and_is_not_sent_again(servers):
    primary, replica = servers
    database = RedisDatabase(**primary.connection_kwargs())
    Ticket = make_model(database)
    try:
        Ticket(code="warm-up")
        replica.pause()  # SIGSTOP: no acknowledgement comes
        try:
            with database.durable(replicas=1, timeout=0.2):
                with pytest.raises(DurabilityError, match=r"applied on the primary.*0 of the 1"):
                    Ticket(code="b1")
                with pytest.raises(DurabilityError), database.pipeline() as pipeline:
                    Ticket(code="b2")
                    pipeline.execute()
        finally:
            replica.resume()
        # applied once each on the primary, never re-sent
        assert sorted(Ticket.collection(code="b1")) == ["2"]
        assert sorted(Ticket.collection(code="b2")) == ["3"]
        assert len(Ticket.collection()) == 3
        # outside the block, no waiting
        Ticket(code="b3")
    finally:
        database.close()


def test_the_durability_option_is_checked():
    entry = {"LOCATION": "redis://localhost:6379/0", "OPTIONS": {"DURABILITY": {"REPLICAS": 2}}}
    assert parse_entry("d", entry, {}).options["DURABILITY"] == {"REPLICAS": 2}
    for bad, message in [
        ({"REPLICAS": 0}, r"\['REPLICAS'\] must be an int >= 1"),
        ({"REPLICAS": 1, "TIMEOUT": -1}, r"\['TIMEOUT'\] must be a number of seconds > 0"),
        ({"REPLICA": 1}, "unknown key"),
    ]:
        entry = {"LOCATION": "redis://localhost:6379/0", "OPTIONS": {"DURABILITY": bad}}
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_entry("d", entry, {})
    cluster = {"LOCATION": "redis+cluster://a:1/", "OPTIONS": {"DURABILITY": {"REPLICAS": 1}}}
    assert parse_entry("d", cluster, {}).options["DURABILITY"] == {"REPLICAS": 1}


def test_an_autopk_counter_behind_the_pks_is_found_and_repaired(database):
    from django_limpyd.consistency import consistency_check
    from django_limpyd.pk_counter import counter_problem, raise_counter

    Ticket = make_model(database)
    for number in range(5):
        Ticket(code=f"c{number}")
    assert counter_problem(Ticket) is None and consistency_check(Ticket) == []
    # what a failover can leave: instances created with increments the counter lost
    database.connection.set(Ticket._meta.keys.max_pk, 3)
    problem = counter_problem(Ticket)
    assert "is 3, below the highest pk in use (5)" in problem
    assert consistency_check(Ticket) == [problem]
    assert raise_counter(Ticket) is True
    assert raise_counter(Ticket) is False  # never lowered, never raised twice
    assert consistency_check(Ticket) == []
    assert Ticket(code="next").pk.get() == "6"


def test_limpyd_index_check_reports_and_repairs_the_counter():
    from io import StringIO

    from django.core.management import CommandError, call_command

    from tests.apps.shop.redis_models import Foo

    for number in range(4):
        Foo(value=f"v{number}")
    Foo.get_connection().set(Foo._meta.keys.max_pk, 1)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("limpyd_index", "check", "shop.Foo", stdout=out)
    assert "is 1, below the highest pk in use (4)" in out.getvalue()
    out = StringIO()
    call_command("limpyd_index", "check", "shop.Foo", repair=True, stdout=out)
    assert "AutoPK counter raised to the highest pk in use (4)" in out.getvalue()
    assert "shop.Foo: OK after repair" in out.getvalue()
    assert Foo(value="new").pk.get() == "5"
