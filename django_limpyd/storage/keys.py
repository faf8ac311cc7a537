"""The key layout: every Redis key name django_limpyd uses is built here.

Layout (``P`` is the model prefix)::

    P = "{" + esc(namespace) + ":" + esc(model name) + "}"
    P = "{" + esc(hash_tag) + "}{" + esc(namespace) + ":" + esc(model name) + "}"
                                     (a model with a ``hash_tag``)
    P:pks                            sorted set of the pks of existing instances (scored
                                     by number for an AutoPK model, else 0)
    P:max                            last AutoPK given (INCR)
    P:ttl                            sorted set of the deadlines of expiring instances (pk by
                                     unix time in ms; models with expiry only)
    P:reaped                         list of the pks of expired instances removed inside
                                     writes, whose post_delete ``delete_expired()`` sends
                                     (bounded; models with expiry only)
    P:h:<pk>                         hash of the instance's InstanceHashFields
    P:f:<esc(field)>:<pk>            key of a StringField / HashField / SetField / ...
    P:x:<esc(field)>:eq[,p=<esc(prefix)>][,k=<esc(key)>]:<value>
                                     EqualIndex: set of pks holding value
    P:x:<esc(field)>:text[,p=...][,k=...]      TextRangeIndex: zset of "value\\0pk"
    P:x:<esc(field)>:num[,p=...][,k=...]       NumberRangeIndex: zset of pk by number
                                     (of "value\\0pk" for multi-value fields)
    P:tmp:scratch                    used and deleted inside one script call
    P:u:<esc(field)>                 hash of the reservations of unique values of a
                                     sharded model's field (value -> state)
    P:fence:<token>                  a revoked reservation's write may not run here
    P:moves                          a shard of a sharded model being resharded (the old
                                     layout): ``""`` -> ``closed`` once nothing may be
                                     created in it, pk -> ``moving`` while the instance is
                                     copied to the new layout (see sharding/reshard.py)
    P:ready                          a shard of the new layout of a sharded model being
                                     resharded: set once its AutoPK counter is past every
                                     pk of the old layout
    P:guard                          never written: declared by every call on a Redis
                                     Cluster, so that a call reaching a slot being moved
                                     is redirected (TRYAGAIN) before it runs
    P:st:<token>                     stored collections

``esc`` percent-encodes everything but ASCII letters, digits and ``_.-~``, so an
escaped part never holds ``:``, ``{``, ``}`` or a glob character. A raw,
unescaped value (a pk, an indexed value) only ever comes *last*, after a fixed
number of escaped parts, so the key is still read back unambiguously. Hence:

* two different things never share a key;
* every key of a model starts with ``P:`` and no other model's prefix starts
  with ``P`` (``P`` ends with ``}``, which escaped parts never contain), so
  ``Foo`` never matches ``FooBar`` nor ``Foo`` of another namespace;
* the hash tag of every key of a model is ``P``'s first braces: one cluster slot, shared
  by the models of one ``hash_tag`` (a tagged prefix never starts another model's:
  after ``{``, it has ``}`` where an untagged one has ``:``).
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

__all__ = ["ModelKeys", "escape", "glob_escape"]

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def escape(part: str) -> str:
    """Percent-encode a key part (namespace, model, field or index name)."""
    return quote(part, safe="")


def glob_escape(text: str) -> str:
    """Escape ``text`` so that a SCAN ``MATCH`` pattern matches it literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class ModelKeys:
    """The key names of one model (namespace + name)."""

    __slots__ = ("hash_tag", "name", "namespace", "prefix")

    def __init__(self, namespace: str, name: str, hash_tag: str | None = None) -> None:
        self.namespace = namespace
        self.name = name
        self.hash_tag = hash_tag
        #: every key of the model starts with ``prefix + ":"``
        self.prefix = "{" + escape(namespace) + ":" + escape(name) + "}"
        if hash_tag is not None:
            self.prefix = "{" + escape(hash_tag) + "}" + self.prefix

    def __repr__(self) -> str:
        return f"<ModelKeys {self.prefix}>"

    @property
    def pks(self) -> str:
        """The sorted set of pks of existing instances (scored by the pk as a number in
        an AutoPK model, else 0: pages in pk order by rank)."""
        return self.prefix + ":pks"

    @property
    def max_pk(self) -> str:
        """The counter of the AutoPKField."""
        return self.prefix + ":max"

    @property
    def expiry(self) -> str:
        """The sorted set of deadlines of a model with expiry: pk scored by the unix time
        (ms) after which the instance no longer exists (see docs/orm/expiry.rst)."""
        return self.prefix + ":ttl"

    @property
    def reaped(self) -> str:
        """The list of the pks of expired instances a write removed (its bounded cleanup,
        or a unique value or pk taken from them), oldest first: ``delete_expired()``
        sends their ``post_delete`` (see docs/orm/expiry.rst)."""
        return self.prefix + ":reaped"

    @property
    def instance_hash_prefix(self) -> str:
        """The instance hash key without its pk (scripts append the pk)."""
        return self.prefix + ":h:"

    def instance_hash(self, pk: str) -> str:
        """The hash holding the InstanceHashFields of instance ``pk``."""
        return self.instance_hash_prefix + pk

    def field_prefix(self, field_name: str) -> str:
        """The key of a field without its pk (scripts append the pk)."""
        return self.prefix + ":f:" + escape(field_name) + ":"

    def field(self, field_name: str, pk: str) -> str:
        """The key of field ``field_name`` of instance ``pk``."""
        return self.field_prefix(field_name) + pk

    def index_storage(
        self, field_name: str, kind: str, prefix: str | None = None, key: str | None = None
    ) -> str:
        """Where an index of ``field_name`` stores its entries.

        ``kind`` is ``eq`` (the result is a key prefix: append the value),
        ``text`` or ``num`` (the result is the sorted set's key). ``prefix`` and
        ``key`` (from ``Index.configure``) keep two indexes of one kind apart.
        """
        if kind not in ("eq", "text", "num"):
            raise ValueError(f"index kind must be 'eq', 'text' or 'num', got {kind!r}")
        name = kind
        if prefix:
            name += ",p=" + escape(prefix)
        if key:
            name += ",k=" + escape(key)
        base = self.prefix + ":x:" + escape(field_name) + ":" + name
        return base + ":" if kind == "eq" else base

    def sort_pattern(self, field_name: str, in_instance_hash: bool) -> str:
        """A SORT ``BY`` pattern reading a field of each pk (``*`` is the pk)."""
        if in_instance_hash:
            return self.instance_hash_prefix + "*->" + field_name
        return self.field_prefix(field_name) + "*"

    @property
    def scratch(self) -> str:
        """A key scripts use and delete within one call (never visible outside it)."""
        return self.prefix + ":tmp:scratch"

    def reservations(self, field_name: str) -> str:
        """The reservations of unique values of ``field_name`` of a sharded model whose
        values fall in this shard's bucket (a hash: value -> state; see
        :mod:`django_limpyd.sharding.unique`)."""
        return self.prefix + ":u:" + escape(field_name)

    def fence(self, token: str) -> str:
        """Set when a reservation ``token`` was revoked: the write it was for may never
        run in this shard (see :mod:`django_limpyd.sharding.unique`)."""
        return self.prefix + ":fence:" + token

    @property
    def moves(self) -> str:
        """On a shard of the layout a sharded model is being resharded from: a hash,
        ``""`` -> ``closed`` (no more creates here), pk -> ``moving`` (being copied to the
        new layout: no write may run on it here); see :mod:`django_limpyd.sharding.reshard`."""
        return self.prefix + ":moves"

    @property
    def ready(self) -> str:
        """On a shard of the layout a sharded model is being resharded to: set once the
        shard's AutoPK counter is past every pk of the old layout (creates wait for it)."""
        return self.prefix + ":ready"

    @property
    def guard(self) -> str:
        """A key that never exists, in the model's slot. On a Redis Cluster every call of
        the model's library declares it: while the slot is being moved (``MIGRATING`` /
        ``IMPORTING``), a call declaring a missing key is answered ``TRYAGAIN`` (or
        ``ASK``) before it runs, instead of stopping half-way at the first key of its
        slot that was already moved ("non local key")."""
        return self.prefix + ":guard"

    def stored(self) -> str:
        """A new key for a stored collection."""
        return self.prefix + ":st:" + uuid.uuid4().hex

    @property
    def scan_pattern(self) -> str:
        """A SCAN pattern matching every key of the model and nothing else."""
        return glob_escape(self.prefix) + ":*"

    def pattern_after(self, start: str) -> str:
        """A SCAN pattern for every key starting with ``start`` (a key this class built)."""
        return glob_escape(start) + "*"

    def owns(self, key: str) -> bool:
        """True if ``key`` belongs to this model."""
        return key.startswith(self.prefix + ":")
