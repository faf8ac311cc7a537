"""Refused writes send nothing to replicas nor to the AOF.

A write that django_limpyd refuses (``UniquenessError``: a unique value already
held; ``<Target>.DoesNotExist``: a foreign key to a missing instance) must not
only leave the data as it was: it must not have written at all. A write
applied and then undone inside the script leaves the same data, but Redis
propagates every effect of a script: replicas and the AOF receive writes that
never happened (and a replica, or an AOF replayed up to a truncated tail,
can hold them).

Each test runs a quiet master (AOF, ``appendfsync always``, no RDB saves, no
pings to replicas) and a replica in sync with it
(:func:`tests.tools.servers.replicated_servers`), makes the refused call, and
asserts that the call raised, that ``master_repl_offset`` and the AOF files are
unchanged (no command appended), that the replica's offset is still the
master's, and that both hold exactly the data of before (``DUMP`` of every
key). Controls show that an accepted write, and a write undone inside a script,
do move the offset: the check can fail.

Redis 6.2 propagates every ``SCRIPT LOAD`` (Redis 7 propagates no repeated
``FUNCTION LOAD``): there, ``SCRIPT LOAD`` may reach replicas and the AOF; it
holds no data, and nothing else may. The engine computes the effects of a write
before writing (``storage/lua/effects.lua``), so a refused write sends no
command at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from django_limpyd.contrib.related import FKInstanceHashField, RelatedModel
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import UniquenessError
from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.test.server import PrivateRedisServer
from tests.reliability.helpers import Snapshot, diff, snapshot, summary
from tests.tools.servers import (
    aof_commands_since,
    aof_sizes,
    offsets,
    redis_version,
    replicated_servers,
    wait_in_sync,
)

pytestmark = pytest.mark.timeout(30)

#: the mark of the refused writes the current engine applies and undoes: they fail on
#: the check of what was sent (an AssertionError; any other error is a real failure)

TAKEN_EMAIL = "holder@example.com"
TAKEN_CODE = "H-1"
MISSING = "999"

#: never contacted before the ``cluster`` fixture points it at the master
DATABASE = RedisDatabase()


class RefusedModel(RelatedModel):
    abstract = True
    database = DATABASE
    namespace = "refused"


class Team(RefusedModel):
    name = InstanceHashField()


class Member(RefusedModel):
    email = InstanceHashField(unique=True)
    code = StringField(unique=True)
    #: written by INCRBYFLOAT, whose result the engine learns from a trial run
    score = StringField(unique=True)
    rating = InstanceHashField(unique=True)
    nickname = InstanceHashField()
    team = FKInstanceHashField(Team, related_name="members")


# -- the master, its replica, and what reaches them ------------------------------------


@dataclass
class Mark:
    """The master's replication offset, AOF sizes and data at one moment."""

    offset: int
    aof: dict[Path, int]
    data: Snapshot


def shown(commands: list[list[bytes]]) -> str:
    """Commands for assertion messages: the first ones, each shortened."""
    lines = [" ".join(arg.decode(errors="replace")[:40] for arg in args) for args in commands]
    more = f" (+{len(lines) - 6} more)" if len(lines) > 6 else ""
    return "; ".join(lines[:6]) + more


def script_cache_only(args: list[bytes]) -> bool:
    """A command that holds no data: ``SCRIPT LOAD``, or the ``MULTI``/``EXEC`` of a
    transaction (Redis 6.2 propagates ``SCRIPT LOAD``)."""
    name = args[0].upper()
    return name in (b"MULTI", b"EXEC") or (name == b"SCRIPT" and args[1:2] == [b"LOAD"])


@dataclass
class Cluster:
    """A quiet AOF master, its replica in sync, and undecoded clients of both."""

    master: PrivateRedisServer
    replica: PrivateRedisServer
    name: str
    version: tuple[int, ...] = field(init=False)
    raw: redis.Redis = field(init=False)
    raw_replica: redis.Redis = field(init=False)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.version = redis_version(self.master)
        self.raw = redis.Redis(**self.master.connection_kwargs())
        self.raw_replica = redis.Redis(**self.replica.connection_kwargs())

    @property
    def propagates_script_load(self) -> bool:
        """Redis 6 sends every ``SCRIPT LOAD`` to replicas and the AOF; Redis 7 none."""
        return self.version < (7,)

    def close(self) -> None:
        self.raw.close()
        self.raw_replica.close()

    def mark(self) -> Mark:
        """The state before a call, once the replica is in sync."""
        offset = wait_in_sync(self.master, self.replica, timeout=10)
        return Mark(offset, aof_sizes(self.master), snapshot(self.raw))

    def assert_nothing_sent(self, mark: Mark) -> None:
        """Nothing reached the replication stream nor the AOF since ``mark`` (on Redis 6,
        nothing but ``SCRIPT LOAD``), and both servers hold the data of ``mark``."""
        commands = aof_commands_since(self.master, mark.aof)
        allowed = script_cache_only if self.propagates_script_load else lambda args: False
        written = [args for args in commands if not allowed(args)]
        assert not written, f"a refused write reached the AOF (and the replicas): {shown(written)}"
        master_offset, replica_offset = offsets(self.master, self.replica)
        if commands:  # Redis 6: script loads only, the same bytes in both streams
            grown = sum(
                size - mark.aof.get(path, 0) for path, size in aof_sizes(self.master).items()
            )
            assert master_offset - mark.offset == grown, (mark.offset, master_offset, grown)
            replica_offset = wait_in_sync(self.master, self.replica, timeout=10)
        else:
            assert master_offset == mark.offset, (
                f"master_repl_offset moved by {master_offset - mark.offset} bytes, "
                "with nothing in the AOF"
            )
            assert aof_sizes(self.master) == mark.aof
        assert replica_offset == master_offset
        after = snapshot(self.raw)
        assert after == mark.data, f"master data changed: {diff(mark.data, after)}"
        replica_data = snapshot(self.raw_replica)
        assert replica_data == mark.data, f"replica data: {diff(mark.data, replica_data)}"
        summary(
            self.name,
            self.started,
            redis=".".join(map(str, self.version)),
            offset=master_offset,
            offset_moved=master_offset - mark.offset,
            non_data_commands=len(commands),
        )


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A master and its replica for this test alone, :data:`DATABASE` on the master;
    both servers stopped by PID at the end, even on failure."""
    with replicated_servers(tmp_path, timeout=10) as (master, replica):
        cluster = Cluster(master, replica, request.node.name)
        DATABASE.connect(**master.connection_kwargs(), socket_timeout=5)
        try:
            yield cluster
        finally:
            DATABASE.close()
            cluster.close()


@dataclass
class Data:
    team: Team
    holder: Member
    member: Member


@pytest.fixture
def data(cluster: Cluster) -> Data:
    """A team; ``holder`` holds the taken unique values, ``member`` gets refused.

    Every call the tests make refused has run once, accepted, on ``member``: the
    scripts or function libraries it uses are loaded (the first load of a library
    on a server is propagated, ``FUNCTION LOAD`` on Redis 7), so what the tests
    measure is the refused call alone.
    """
    team = Team(name="red")
    holder = Member(
        email=TAKEN_EMAIL, code=TAKEN_CODE, score="1.5", rating="2.5", nickname="holder", team=team
    )
    member = Member(
        email="member@example.com", code="M-0", score="0", rating="0", nickname="member", team=team
    )
    member.score.incrbyfloat(1)
    member.rating.hincrbyfloat(2)
    member.email.hset("member@example.com")
    member.code.set("M-1")
    member.hmset(nickname="member", team=team)
    member.team.hset(team)
    for transaction in (False, True):
        with DATABASE.pipeline(transaction=transaction) as pipeline:
            member.email.hset("member@example.com")
            pipeline.execute()
    return Data(team, holder, member)


# -- controls: the check can fail -----------------------------------------------------


def test_accepted_write_moves_the_offset(cluster: Cluster, data: Data):
    """An accepted update reaches the AOF and the replica (the offset moves, the
    replica catches up and holds the new value), and the check fails on it."""
    mark = cluster.mark()
    data.member.email.hset("new@example.com")
    commands = aof_commands_since(cluster.master, mark.aof)
    assert any(args[0].upper() in (b"HSET", b"HMSET") for args in commands), shown(commands)
    offset = wait_in_sync(cluster.master, cluster.replica, timeout=10)
    assert offset > mark.offset
    assert cluster.raw_replica.hget(data.member.email.key, "email") == b"new@example.com"
    with pytest.raises(AssertionError, match="reached the AOF"):
        cluster.assert_nothing_sent(mark)


def test_write_undone_inside_a_script_is_seen(cluster: Cluster, data: Data):
    """A script that writes then puts the old value back, then fails (what the current
    engine does for a refused update), leaves the data unchanged yet reaches the
    AOF and the replica: the check catches it."""
    mark = cluster.mark()
    key = data.member.email.key
    undo = (
        "local old = redis.call('HGET', KEYS[1], 'email') "
        "redis.call('HSET', KEYS[1], 'email', ARGV[1]) "
        "redis.call('HSET', KEYS[1], 'email', old) "
        "return redis.error_reply('LIMPYD_UNIQUE {}')"
    )
    with pytest.raises(redis.ResponseError, match="LIMPYD_UNIQUE"):
        cluster.raw.eval(undo, 1, key, TAKEN_EMAIL)
    assert snapshot(cluster.raw) == mark.data
    with pytest.raises(AssertionError, match="reached the AOF"):
        cluster.assert_nothing_sent(mark)


def test_scripts_that_write_nothing_are_not_propagated(cluster: Cluster, data: Data):
    """The premise, on this server: a script that only reads, or fails before writing,
    alone or in MULTI/EXEC, sends nothing to replicas nor to the AOF (Redis 7 does
    not propagate an EXEC that wrote nothing); a ``SCRIPT LOAD`` does on Redis 6."""
    mark = cluster.mark()
    key = data.member.email.key
    assert cluster.raw.eval("return redis.call('HGET', KEYS[1], 'email')", 1, key)
    with pytest.raises(redis.ResponseError, match="LIMPYD_UNIQUE"):
        cluster.raw.eval("return redis.error_reply('LIMPYD_UNIQUE {}')", 1, key)
    pipe = cluster.raw.pipeline(transaction=True)
    pipe.eval("return redis.error_reply('LIMPYD_UNIQUE {}')", 1, key)
    pipe.eval("return redis.call('HGET', KEYS[1], 'email')", 1, key)
    replies = pipe.execute(raise_on_error=False)
    assert isinstance(replies[0], redis.ResponseError)
    assert offsets(cluster.master, cluster.replica) == (mark.offset, mark.offset)
    assert aof_sizes(cluster.master) == mark.aof
    pipe = cluster.raw.pipeline(transaction=True)
    pipe.script_load("return redis.error_reply('LIMPYD_UNIQUE {}')")
    pipe.execute()
    commands = aof_commands_since(cluster.master, mark.aof)
    if cluster.propagates_script_load:
        assert [args[0] for args in commands] == [b"MULTI", b"SCRIPT", b"EXEC"], shown(commands)
    else:
        assert commands == []
    cluster.assert_nothing_sent(mark)


# -- refused creates: checked before the first write -----------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"email": TAKEN_EMAIL, "code": "N-1"}, id="InstanceHashField"),
        pytest.param({"email": "new@example.com", "code": TAKEN_CODE}, id="StringField"),
    ],
)
def test_create_with_a_taken_unique_value_sends_nothing(
    cluster: Cluster, data: Data, values: dict[str, Any]
):
    """``Member(email=taken)`` (or ``code=taken``) raises ``UniquenessError`` and sends
    nothing: no AutoPK increment, no field, no index entry."""
    mark = cluster.mark()
    with pytest.raises(UniquenessError):
        Member(nickname="new", **values)
    cluster.assert_nothing_sent(mark)


def test_create_with_a_missing_fk_target_sends_nothing(cluster: Cluster, data: Data):
    """``Member(team=<missing pk>)`` raises ``Team.DoesNotExist`` and sends nothing."""
    mark = cluster.mark()
    with pytest.raises(Team.DoesNotExist):
        Member(email="new@example.com", code="N-1", team=MISSING)
    cluster.assert_nothing_sent(mark)


# -- refused updates ------------------------------------------------------------------


@pytest.mark.parametrize("field_name", ["email", "code"], ids=["InstanceHashField", "StringField"])
def test_update_to_a_taken_unique_value_sends_nothing(
    cluster: Cluster, data: Data, field_name: str
):
    """``member.email.hset(taken)`` / ``member.code.set(taken)`` raises
    ``UniquenessError`` and sends nothing (not a write and its undo)."""
    mark = cluster.mark()
    with pytest.raises(UniquenessError):
        if field_name == "email":
            data.member.email.hset(TAKEN_EMAIL)
        else:
            data.member.code.set(TAKEN_CODE)
    cluster.assert_nothing_sent(mark)


@pytest.mark.parametrize("field_name", ["score", "rating"], ids=["INCRBYFLOAT", "HINCRBYFLOAT"])
def test_refused_float_increment_sends_nothing(cluster: Cluster, data: Data, field_name: str):
    """An increment by a float to a taken unique value: its result cannot be told in
    advance, so the engine runs it as a trial that replicas and the AOF never see, and
    undoes it; refused, nothing is sent (scratch work included)."""
    mark = cluster.mark()
    with pytest.raises(UniquenessError):
        if field_name == "score":
            data.member.score.incrbyfloat(0.5)  # 1 + 0.5: the holder's
        else:
            data.member.rating.hincrbyfloat(0.5)  # 2 + 0.5: the holder's
    cluster.assert_nothing_sent(mark)
    assert data.member.score.get() == "1" and data.member.rating.hget() == "2"


def test_hmset_with_one_taken_unique_value_sends_nothing(cluster: Cluster, data: Data):
    """``hmset(nickname=..., email=taken, team=...)``: one taken value refuses the whole
    call, and none of its fields is sent."""
    other = Team(name="blue")
    mark = cluster.mark()
    with pytest.raises(UniquenessError):
        data.member.hmset(nickname="renamed", email=TAKEN_EMAIL, team=other)
    cluster.assert_nothing_sent(mark)
    assert data.member.nickname.hget() == "member"


def test_update_of_fk_to_a_missing_target_sends_nothing(cluster: Cluster, data: Data):
    """``member.team.hset(<missing pk>)`` raises ``Team.DoesNotExist`` and sends nothing."""
    mark = cluster.mark()
    with pytest.raises(Team.DoesNotExist):
        data.member.team.hset(MISSING)
    cluster.assert_nothing_sent(mark)
    assert data.member.team.hget() == data.team.pk.get()


@pytest.mark.parametrize("transaction", [False, True], ids=["no-transaction", "MULTI-EXEC"])
def test_refused_update_in_a_pipeline_sends_nothing(
    cluster: Cluster, data: Data, transaction: bool
):
    """The refused unique update queued in ``database.pipeline()``: ``execute(
    raise_on_error=False)`` gives its ``UniquenessError`` in place, and nothing is
    sent. With ``MULTI``/``EXEC``, Redis propagates no ``EXEC`` that wrote nothing:
    the offset does not move (the batch never loads its libraries inside ``MULTI``)."""
    mark = cluster.mark()
    with DATABASE.pipeline(transaction=transaction) as pipeline:
        data.member.email.hset(TAKEN_EMAIL)
        results = pipeline.execute(raise_on_error=False)
    assert len(results) == 1 and isinstance(results[0], UniquenessError), results
    cluster.assert_nothing_sent(mark)
