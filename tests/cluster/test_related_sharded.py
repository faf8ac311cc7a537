"""Related fields to and from a sharded model on a real Redis Cluster (3 masters): the
shards of each side spread over the masters, the target checked in its shard before a
write, the pointers of every shard cleared after a target's delete, the related
collections of a sharded source scattered to its shards."""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MSetField,
    RelatedModel,
)

pytestmark = pytest.mark.slow


def test_related_fields_to_and_from_sharded_models_across_the_masters(db, cluster):
    class Member(RelatedModel):  # sharded target
        database = db
        namespace = "shrel"
        shards = 6
        name = fields.InstanceHashField(indexable=True)

    class Board(RelatedModel):  # unsharded target and source
        database = db
        namespace = "shrel"
        title = fields.InstanceHashField(indexable=True)
        owner = FKStringField(Member, related_name="boards")
        members = M2MSetField(Member, related_name="membership")

    class Note(RelatedModel):  # sharded source, to an unsharded and a sharded model
        database = db
        namespace = "shrel"
        shards = 6
        kind = fields.InstanceHashField(indexable=True)
        board = FKInstanceHashField(Board, related_name="notes")
        author = FKInstanceHashField(Member, related_name="notes")
        readers = M2MSetField(Member, related_name="read")

    slot = db.connection.keyslot
    slots = {slot(model._meta.keys.pks) for model in [*Member._meta.shard_models, Board]}
    assert len(slots) == 7
    members = [Member(name=f"m{number}") for number in range(12)]
    ann, bob = members[:2]
    board = Board(title="b", owner=ann, members=members[:4])
    notes = [
        Note(kind="ab"[number % 2], board=board, author=members[number], readers=[ann, bob])
        for number in range(12)
    ]
    assert len({type(note) for note in notes}) == 6
    assert list(ann.boards()) == [board.pk.get()]
    assert sorted(board.members(), key=int) == sorted((m.pk.get() for m in members[:4]), key=int)
    assert len(board.notes()) == 12 and len(board.notes(kind="a")) == 6
    assert sorted(bob.read(), key=int) == sorted((n.pk.get() for n in notes), key=int)
    assert list(bob.notes()) == [notes[1].pk.get()]

    # a missing target refuses the write before anything is sent
    with pytest.raises(Member.DoesNotExist, match="cannot point to Member '999'"):
        Board(title="x", owner="999")
    with pytest.raises(Member.DoesNotExist):
        notes[3].readers.sadd("998")
    with pytest.raises(Board.DoesNotExist):
        Note(kind="a", board="997")
    assert len(Board.collection()) == 1 and len(Note.collection()) == 12
    assert notes[3].readers.smembers() == {ann.pk.get(), bob.pk.get()}

    # deleting targets clears the pointers in every shard and slot
    ann.delete()
    assert Board(board.pk.get()).owner.get() is None
    assert ann.pk.get() not in board.members.smembers()
    assert all(Note(n.pk.get()).readers.smembers() == {bob.pk.get()} for n in notes)
    assert Note(notes[0].pk.get()).author.hget() is None
    board.delete()
    assert all(Note(n.pk.get()).board.hget() is None for n in notes)
    assert list(Note.collection(board=board.pk.get())) == []
    for model in (Member, Board, Note):
        assert consistency_check(model) == []
        for shard in model._meta.shard_models:
            assert consistency_check(shard) == []
