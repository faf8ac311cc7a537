"""``Options``: every fact about a model, on ``Model._meta``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.text import camel_case_to_spaces

from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage.compiler import Library, compile_library
from django_limpyd.storage.keys import ModelKeys

if TYPE_CHECKING:
    from django_limpyd.database import RedisDatabase
    from django_limpyd.fields.base import RedisField
    from django_limpyd.fields.pk import PKField
    from django_limpyd.indexes.base import BaseIndex

__all__ = ["EXPIRY_REAPED_MAX", "EXPIRY_SWEEP", "Options"]

#: how many expired instances a write of a model with expiry removes, at most
EXPIRY_SWEEP = 20
#: how many pks of instances removed by writes ``ModelKeys.reaped`` keeps, at most
EXPIRY_REAPED_MAX = 10_000


class Options:
    """The options object of a model: name, namespace, fields, pk, database, keys."""

    def __init__(
        self, model: type, *, namespace: str, abstract: bool, hash_tag: str | None = None
    ) -> None:
        if not isinstance(namespace, str):
            raise ImplementationError(
                f"{model.__name__}.namespace must be a string, got {namespace!r}."
            )
        if hash_tag is not None and (not isinstance(hash_tag, str) or not hash_tag):
            raise ImplementationError(
                f"{model.__name__}.hash_tag must be a non-empty string or None, got {hash_tag!r}."
            )
        self.model = model
        self.name: str = model.__name__
        self.namespace = namespace
        self.abstract = abstract
        #: set by the Django integration for models defined in an app
        self.app_label: str | None = None
        self.fields: dict[str, RedisField] = {}
        self._data_fields: list[RedisField] | None = None
        self._defaults: dict[str, Any] | None = None
        self.pk_field: PKField | None = None
        #: the Redis Cluster hash tag shared with co-located models, or None
        self.hash_tag = hash_tag
        self.keys = ModelKeys(namespace, self.name, hash_tag)
        self._registered_on: RedisDatabase | None = None
        #: related fields of other models pointing to this one (see add_referrer)
        self.referrers: list[RedisField] = []
        self._library: Library | None = None
        self._positions: dict[str, str] | None = None
        self._headers: dict[tuple[str, ...], str] = {}
        self._transforms: bool | None = None
        #: the default time to live of a new instance, in seconds (``ttl`` class
        #: attribute), or None; see docs/orm/expiry.rst
        self.ttl: float | None = None
        #: whether instances can expire (``ttl`` or ``expirable = True``)
        self.expirable = False
        #: a sharded model (``shards`` class attribute): how many shards, else None
        self.shards: int | None = None
        #: on a shard model (see :mod:`django_limpyd.sharding.layout`): its number
        self.shard: int | None = None
        #: on a sharded model: its shard models, by shard number (empty otherwise)
        self.shard_models: list[type] = []
        #: a sharded model being resharded (``resharding_from`` class attribute): the
        #: number of shards of its old layout (1: it was not sharded), else None
        self.previous_shards: int | None = None
        #: on a sharded model being resharded: the shard models of its old layout
        self.previous_shard_models: list[type] = []
        #: on a shard model of a model being resharded: "old" (a shard of the layout it
        #: is resharded from) or "new", else None (see sharding/reshard.py)
        self.layout: str | None = None

    def __repr__(self) -> str:
        return f"<Options for {self.name}>"

    # -- what Django tools expect ---------------------------------------------------

    @property
    def object_name(self) -> str:
        """The class name."""
        return self.name

    @property
    def model_name(self) -> str:
        """The class name, lowercased."""
        return self.name.lower()

    @property
    def label(self) -> str:
        """``app_label.ModelName`` (the namespace stands in outside apps); a shard model
        of a sharded model: ``app_label.ModelName[shard n]``."""
        label = f"{self.app_label or self.namespace}.{self.name}"
        if self.shard is None:
            return label
        if self.layout == "old" and self.shards == 1:
            return f"{label}[before sharding]"
        if self.layout == "old":
            return f"{label}[shard {self.shard} of {self.shards}, before resharding]"
        return f"{label}[shard {self.shard}]"

    @property
    def label_lower(self) -> str:
        """``app_label.modelname``."""
        return self.label.lower()

    @property
    def verbose_name(self) -> str:
        """The ``verbose_name`` class attribute, else the class name in words."""
        return getattr(self.model, "verbose_name", None) or camel_case_to_spaces(self.name)

    @property
    def verbose_name_plural(self) -> str:
        """The ``verbose_name_plural`` class attribute, else ``verbose_name + "s"``."""
        return getattr(self.model, "verbose_name_plural", None) or f"{self.verbose_name}s"

    @property
    def pk(self) -> PKField | None:
        """The pk field."""
        return self.pk_field

    def get_fields(self) -> list[RedisField]:
        """Every field, the pk first, in declaration order."""
        return list(self.fields.values())

    # -- fields ---------------------------------------------------------------------

    def add_field(self, field: RedisField) -> None:
        """Record a field (called by ``contribute_to_class``)."""
        from django_limpyd.fields.pk import PKField

        self.fields[field.name] = field
        self._data_fields = self._defaults = None
        self.__dict__.pop("_has_unique", None)
        if isinstance(field, PKField):
            self.pk_field = field

    def get_field(self, name: str) -> RedisField:
        """The field called ``name`` (``pk`` is the pk field whatever its name)."""
        if name == "pk" and self.pk_field is not None:
            return self.pk_field
        try:
            return self.fields[name]
        except KeyError:
            raise ImplementationError(
                f"{self.name} has no field {name!r} (fields: {', '.join(self.fields)})."
            ) from None

    def has_field(self, name: str) -> bool:
        """True if ``name`` is a field (or ``pk``)."""
        return name in self.fields or name == "pk"

    @property
    def data_fields(self) -> list[RedisField]:
        """Every field but the pk (in declaration order)."""
        fields = self._data_fields
        if fields is None:
            fields = self._data_fields = [
                field for field in self.fields.values() if field is not self.pk_field
            ]
        return fields

    @property
    def defaults(self) -> dict[str, Any]:
        """``{name: default}`` of the data fields declaring a default."""
        if self._defaults is None:
            from django_limpyd.fields.base import NOT_SET

            self._defaults = {
                field.name: field.default
                for field in self.data_fields
                if field.default is not NOT_SET
            }
        return self._defaults

    @property
    def hash_fields(self) -> list[str]:
        """Names of the InstanceHashFields, in declaration order."""
        return [f.name for f in self.fields.values() if f.storage_type == "hfield"]

    def index(self, index_id: str) -> BaseIndex:
        """The index the scripts call ``index_id`` ("field/position")."""
        field_name = index_id.split("/", 1)[0]
        for index in self.get_field(field_name).indexes:
            if index.id == index_id:
                return index
        raise ImplementationError(f"{self.name} has no index {index_id!r}.")

    def get_default_indexes(self) -> list[type[BaseIndex]]:
        """The index classes of the model's indexable fields declared without
        ``indexes=`` (and without ``default_indexes`` on their class): the model's
        ``default_indexes`` (its own or a parent's), else its database's.

        Read when the model class is created: a database given by alias is not
        resolved then, so ``RedisDatabase.default_indexes`` (the class attribute)
        applies to it.
        """
        model_defaults = getattr(self.model, "default_indexes", None)
        if model_defaults is not None:
            return list(model_defaults)
        from django_limpyd.database import RedisDatabase

        database = getattr(self.model, "database", None)
        if isinstance(database, RedisDatabase):
            return database.get_default_indexes()
        return list(RedisDatabase.default_indexes or ())

    # -- database -------------------------------------------------------------------

    @property
    def database(self) -> RedisDatabase:
        """The model's database (an alias is resolved, and the model registered, on use)."""
        database = self.model.database
        if database is self._registered_on and database is not None:
            return database  # a RedisDatabase, already registered: the usual case
        if database is None and self.app_label is not None:
            database = "default"
        if isinstance(database, str):
            from django_limpyd.connections import databases

            database = databases[database]
        if database is None:
            raise ImplementationError(
                f"{self.name} has no database: set `database` (a RedisDatabase or a "
                "LIMPYD_DATABASES alias) on it or on an abstract parent."
            )
        if self._registered_on is not database and not self.abstract:
            self.register(database)
        return database

    def register(self, database: RedisDatabase) -> None:
        """Register the model on ``database`` (and leave the previous one)."""
        from django_limpyd.database import RedisDatabase

        if not isinstance(database, RedisDatabase):
            raise ImplementationError(
                f"{self.name}.database must be a RedisDatabase or an alias, got {database!r}."
            )
        if self.shard is None:  # a shard model is reached through its sharded model
            database._add_model(self.model)
        if self._registered_on is not None and self._registered_on is not database:
            self._registered_on._remove_model(self.model)
        self._registered_on = database

    # -- what the scripts get -------------------------------------------------------

    def check_writable(self) -> None:
        """Refuse writes to a model with a unique field that no index can enforce
        (system check limpyd.E005 reports it at startup)."""
        for field in self.data_fields:
            if field.unique and not any(index.handles_uniqueness for index in field.indexes):
                raise ImplementationError(
                    f"{field.describe()} is unique but none of its indexes handles "
                    "uniqueness; nothing was written."
                )

    def light_spec(self, field: RedisField) -> dict[str, Any]:
        """A field as the scripts see it when reading it only (no indexes)."""
        if field.storage_type == "hfield":
            key = self.keys.instance_hash_prefix
        else:
            key = self.keys.field_prefix(field.name)
        return {"name": field.name, "type": field.storage_type, "key": key, "multi": field.multi}

    def field_spec(self, field: RedisField) -> dict[str, Any]:
        """One field as the scripts see it: its indexes, and the indexes of other fields
        whose entries are made with its value (``dependents``)."""
        dependents = [
            {"owner": self.light_spec(other), "index": index.spec()}
            for other in self.data_fields
            if other is not field
            for index in other.indexes
            if field.name in index.deps
        ]
        return {
            **self.light_spec(field),
            "indexes": [index.spec() for index in field.indexes],
            "dependents": dependents,
        }

    def add_referrer(self, field: RedisField) -> None:
        """Record a related field (of any model of the same database) pointing to this
        model: deleting an instance removes it from that field, atomically (or, across
        slots of a Redis Cluster and for sharded models, by the ordered steps of
        ``contrib/related/crossslot.py``). A sharded model's shard models, which delete
        its instances, get the referrer too."""
        if self.previous_shard_models:
            raise ImplementationError(
                f"{field.describe()} points to {self.name}, which is being resharded "
                "(resharding_from): related fields to or from a model being resharded are "
                "not supported; declare the field once the resharding is finished."
            )
        for meta in [self, *(shard._meta for shard in self.shard_models)]:
            if field not in meta.referrers:
                meta.referrers.append(field)
                meta.invalidate_specs()

    def invalidate_specs(self) -> None:
        """Forget the compiled library (after a change of fields or referrers)."""
        self._library = None
        self._positions = None
        self._headers = {}
        self._transforms = None

    @property
    def has_transforms(self) -> bool:
        """True if an index of the model (or of a field pointing to it) has a transform."""
        if self._transforms is None:
            self._transforms = any(
                index.has_transform
                for field in [*self.data_fields, *self.referrers]
                for index in field.indexes
            )
        return self._transforms

    @property
    def field_positions(self) -> dict[str, str]:
        """``{name: position}`` of the data fields in the library's ``M.fields`` (from 1),
        as the text the functions receive."""
        if self._positions is None:
            self._positions = {field.name: str(n) for n, field in enumerate(self.data_fields, 1)}
        return self._positions

    def written_header(self, names: tuple[str, ...]) -> str:
        """The fields part of a write's header: the positions of ``names`` (``"3,4"``)."""
        header = self._headers.get(names)
        if header is None:
            positions = self.field_positions
            header = self._headers[names] = ",".join(positions[name] for name in names)
        return header

    def program(self) -> dict[str, Any]:
        """The model as its library sees it (see ``lua/core.lua``)."""
        return {
            "fields": [self.field_spec(field) for field in self.data_fields],
            "hash": self.keys.instance_hash_prefix,
            "scratch": self.keys.scratch,
            "guard": self.keys.guard,
            **({"auto": True} if self.pk_field.auto else {}),
            **(self.shard_program() if self.shard is not None and self.pk_field.auto else {}),
            **(self.expiry_program() if self.expirable else {}),
            **self.reshard_program(),
            "referrers": [
                {
                    "field": field.model._meta.field_spec(field),
                    "pointer": field.pointer_index().storage_base,
                }
                for field in self.local_referrers()
            ],
        }

    @property
    def has_related(self) -> bool:
        """True if a field of the model is a related field (it points to instances)."""
        related = self.__dict__.get("_has_related")
        if related is None:
            related = self._has_related = any(
                hasattr(field, "cross_slot_targets") for field in self.data_fields
            )
        return related

    def local_referrers(self) -> list[RedisField]:
        """The related fields pointing to this model whose pointers its delete function
        clears itself: all of them, but on a Redis Cluster only those of models in its
        slot (the others: see ``contrib/related/crossslot.py``)."""
        return [field for field in self.referrers if not field.crosses_slots()]

    def expiry_program(self) -> dict[str, Any]:
        """What a model with expiry adds to its program: its deadlines key, its default
        time to live in ms, how many expired instances each write cleans up (none when
        their removal may need a transform: ``Model.delete_expired()`` does it)."""
        return {
            "expiry": self.keys.expiry,
            "ttl": round(self.ttl * 1000) if self.ttl else None,
            "sweep": 0 if self.has_transforms else EXPIRY_SWEEP,
            "reaped": self.keys.reaped,
            "reaped_max": EXPIRY_REAPED_MAX,
        }

    @property
    def has_unique(self) -> bool:
        """True if a data field of the model is unique."""
        unique = self.__dict__.get("_has_unique")
        if unique is None:
            unique = self._has_unique = any(field.unique for field in self.data_fields)
        return unique

    def shard_program(self) -> dict[str, int]:
        """What the library of a shard model with an AutoPK adds: the pk stride
        (``auto_pk`` in ``lua/core.lua``)."""
        return {"stride": self.shards, "offset": self.shard}

    def reshard_program(self) -> dict[str, str]:
        """What the library of a shard of a model being resharded adds (see
        ``lua/reshard.lua``): the old layout's moves, the new layout's ready flag."""
        if self.layout == "old":
            return {"moves": self.keys.moves}
        if self.layout == "new" and self.pk_field.auto:
            return {"ready": self.keys.ready}
        return {}

    @property
    def stored_models(self) -> list[type]:
        """The models whose keys hold this model's instances: its shard models for a
        sharded model (those of its old layout too while it is resharded), else itself."""
        if self.shard_models:
            return [*self.shard_models, *self.previous_shard_models]
        return [self.model]

    def keys_for(self, pk: str) -> ModelKeys:
        """The key names of instance ``pk`` (those of its shard in a sharded model)."""
        if self.shard_models:
            return self.shard_model_of(pk)._meta.keys
        return self.keys

    def shard_model_of(self, pk: str) -> type:
        """The shard model holding the instance ``pk`` of this sharded model."""
        from django_limpyd.sharding.layout import shard_of_pk

        return self.shard_models[shard_of_pk(self, pk)]

    @property
    def library(self) -> Library:
        """The model's compiled function library (built once)."""
        library = self._library
        if library is None:
            self.check_writable()
            kinds: dict[str, str] = {}
            fields = [*self.data_fields]
            for referrer in self.local_referrers():  # their dependents' indexes too
                fields += referrer.model._meta.data_fields
            for field in fields:
                for index in field.indexes:
                    kinds.setdefault(index.kind, index.lua_source())
            library = self._library = compile_library(self.program(), kinds)
        return library
