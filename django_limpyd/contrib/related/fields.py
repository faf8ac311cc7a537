"""The related fields: foreign keys (``FKStringField``, ``FKInstanceHashField``) and
many-to-many fields (``M2MSetField``, ``M2MListField``, ``M2MSortedSetField``).

Each is the core field of the same type, always indexable (an ``EqualIndex`` at
least, whose sets, one per target pk, find the instances pointing to a target),
where every value may be given as an instance of the target model (its pk is
used) or as a pk. A write that makes the field point to a pk checks, in the
same atomic script, that the target instance exists (``DoesNotExist``
otherwise): a field never holds the pk of a deleted instance, as deleting a
target removes it from every field pointing to it (``delete.lua``, referrers).
"""

from __future__ import annotations

from typing import Any

from django_limpyd.contrib.related.base import (
    RelatedFieldMixin,
    all_args,
    first_arg,
    mapping_keys,
    second_arg,
)
from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields import (
    InstanceHashField,
    ListField,
    SetField,
    SortedSetField,
    StringField,
)

__all__ = [
    "FKInstanceHashField",
    "FKStringField",
    "M2MListField",
    "M2MSetField",
    "M2MSortedSetField",
    "RelatedFieldMixin",
]


class FKMixin(RelatedFieldMixin):
    """A foreign key: one pk of the target model."""

    foreign_key = True

    def related_instance(self, skip_exist_test: bool = False) -> Any:
        """The target instance this field points to (``None`` if not set).

        ``skip_exist_test=True`` connects lazily (no existence check now).
        """
        target = self.related_model
        pk = self.current_value()
        if pk is None:
            return None
        return target.lazy_connect(pk) if skip_exist_test else target(pk)


class FKStringField(FKMixin, StringField):
    """A foreign key stored in a ``StringField`` (``set``/``get``)."""

    pointing_commands = {"set": first_arg, "setnx": first_arg, "getset": first_arg}


class FKInstanceHashField(FKMixin, InstanceHashField):
    """A foreign key stored in the instance's hash (``hset``/``hget``, and read with
    the other InstanceHashFields by ``hmget``)."""

    pointing_commands = {"hset": first_arg, "hsetnx": first_arg}
    removing_commands = ("hdel",)
    delete_command = "hdel"

    def hset(self, value: Any) -> Any:
        """Redis ``HSET`` of this entry; across slots (and to or from a sharded model)
        through the ordered steps of ``contrib/related/crossslot.py``, not the direct
        call (whose function checks the target only in its own slot)."""
        if self.crosses_slots():
            return self._write("hset", self.prepare_value(value))
        return super().hset(value)


class M2MMixin(RelatedFieldMixin):
    """A many-to-many field: callable, returning a collection of the target model."""

    many = True

    def __call__(self, **filters: Any) -> Any:
        """The collection of the target instances this field holds (same as
        :meth:`collection`)."""
        return self.collection(**filters)

    def collection(self, **filters: Any) -> Any:
        """A collection (ExtendedCollectionManager) of the target model restricted to
        the pks this field holds, and-ed with ``filters``."""
        from django_limpyd.contrib.related.collections import manager_for
        from django_limpyd.contrib.related.model import convert_filters

        if self.bound_instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        target = self.related_model
        if target._meta.shard_models:  # a sharded target: its pks held here, in each shard
            from django_limpyd.sharding.collection import ShardedCollection

            kind = self.storage_type
            held = list(
                self.smembers()
                if kind == "set"
                else self.zrange(0, -1)
                if kind == "zset"
                else self.lrange(0, -1)
            )
            collection = ShardedCollection(target, manager_for(target))(
                **convert_filters(target, filters)
            )
            return collection.filter(pk__in=held)
        collection = manager_for(target)(target)(**convert_filters(target, filters))
        return collection.intersect(self)


class M2MSetField(M2MMixin, SetField):
    """Many-to-many in a ``SetField``: unordered, unique, the lightest."""

    pointing_commands = {"sadd": all_args}
    removing_commands = ("delete", "srem", "spop")
    signal_values = {"sadd": all_args, "srem": all_args}


class M2MListField(M2MMixin, ListField):
    """Many-to-many in a ``ListField``: ordered, the same pk possibly several times."""

    pointing_commands = {
        "lpush": all_args,
        "rpush": all_args,
        "lpushx": all_args,
        "rpushx": all_args,
        "linsert": lambda args, kwargs: [args[2]] if len(args) > 2 else [],
        "lset": second_arg,
    }
    removing_commands = ("delete", "lpop", "rpop", "lrem", "ltrim")
    signal_values = {
        **pointing_commands,
        "lrem": second_arg,
    }


class M2MSortedSetField(M2MMixin, SortedSetField):
    """Many-to-many in a ``SortedSetField``: unique, ordered by a score per pk."""

    pointing_commands = {"zadd": mapping_keys, "zincrby": second_arg}
    removing_commands = (
        "delete",
        "zrem",
        "zpopmax",
        "zpopmin",
        "zremrangebylex",
        "zremrangebyrank",
        "zremrangebyscore",
    )
    signal_values = {"zadd": mapping_keys, "zincrby": second_arg, "zrem": all_args}
