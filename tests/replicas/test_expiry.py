"""Expiring instances on a read-only replica: its read-only functions compare deadlines
with its own clock and answer as the primary would, without deleting anything."""

from __future__ import annotations

import pytest

from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.model import RedisModel
from tests.replicas.conftest import DATABASE
from tests.replicas.helpers import command_counts, commands_since
from tests.tools.servers import wait_in_sync

pytestmark = pytest.mark.timeout(30)


class Token(RedisModel):
    database = DATABASE
    namespace = "replicas"
    ttl = 3600
    value = InstanceHashField(unique=True)
    owner = InstanceHashField(indexable=True)
    note = StringField()


def test_replica_reads_never_return_expired_instances(servers):
    primary, replica = servers
    gone = Token(value="a", owner="ann", note="x")
    kept = Token(value="b", owner="ann", note="y")
    # the deadline passes without any cleanup (no write since)
    primary.client().zadd(Token._meta.keys.expiry, {gone.pk.get(): 1})
    wait_in_sync(primary, replica)
    keys = sorted(replica.client().keys())
    before = command_counts(primary), command_counts(replica)
    with pytest.raises(Token.DoesNotExist):
        Token(gone.pk.get())
    assert not Token.exists(gone.pk.get())
    with pytest.raises(Token.DoesNotExist):
        gone.note.get()
    assert kept.note.get() == "y"
    assert list(Token.collection(owner="ann")) == [kept.pk.get()]
    assert Token.collection(owner="ann").count() == 1
    assert len(Token.collection()) == 1
    assert 3590 < kept.ttl() <= 3600
    assert commands_since(primary, before[0]) == {}  # all on the replica
    assert sorted(replica.client().keys()) == keys  # which deleted nothing
    # the next write on the primary cleans up, and the replica follows
    kept.note.set("z")
    wait_in_sync(primary, replica)
    assert not replica.client().exists(Token._meta.keys.field("note", gone.pk.get()))
