"""Reading what a serializer shows, in as few round trips as possible.

Serializer fields read :class:`Row` objects: a dict of model field name to
value (``pk`` included) with ``row.pk`` and ``row.instance``. A
:class:`RowReader` makes them:

* from an ``ExtendedCollectionManager`` (what the viewsets use): the pks and every
  field (multi-value fields whole) are read by the collection function itself with
  ``values(..., multi=True)``: filters, sort, slice and values in **one round
  trip** (with the count of the collection too, in :meth:`RowReader.read_counted`,
  what a page-number paginator uses);
* from a plain ``CollectionManager``: its pks (one round trip), then the rest;
* every field of rows made from instances or pks is read with **one pipeline** (no
  transaction) of read commands on the fields' keys, for all the rows at once;
* a nested serializer of a related field: the pks the rows point to are read by
  the nested reader, in one more round trip per target model (never one per row).

Only read commands are sent. A row is read as it is at that moment: a pipeline
after the collection script is not atomic with it (an instance deleted in
between reads as empty values).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django_limpyd.collection import CollectionManager
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.storage.state import queue_key_read

__all__ = ["SINGLE_VALUE_TYPES", "Row", "RowReader"]

#: the storage types the collection script reads with ``values()``
SINGLE_VALUE_TYPES = ("string", "hfield")


class Row(dict):
    """The values of one instance, by model field name (``pk`` and the pk field's own
    name included); what serializer fields read."""

    def __init__(self, model: type, pk: str, values: Mapping[str, Any] = ()) -> None:
        super().__init__(values)
        #: the model of the instance
        self.model = model
        #: the pk of the instance (a string)
        self.pk = pk
        self["pk"] = pk
        self[model._meta.pk_field.name] = pk

    @property
    def instance(self) -> Any:
        """The model instance (connected without a round trip: writes check that it
        exists, atomically)."""
        return self.model.lazy_connect(self.pk)

    def __repr__(self) -> str:
        return f"<Row {self.model.__name__} pk={self.pk!r} {dict(self)!r}>"


def _shape(storage_type: str, reply: Any) -> Any:
    """A read reply as serializer fields get it: sets as sorted lists, hashes as dicts
    sorted by key, sorted sets as ``{member: score}`` in score order."""
    if storage_type == "set":
        return sorted(reply or ())
    if storage_type == "hash":
        return dict(sorted((reply or {}).items()))
    if storage_type == "zset":
        return {member: float(score) for member, score in reply or ()}
    if storage_type == "list":
        return list(reply or ())
    return reply


@dataclass
class RowReader:
    """Reads the fields ``names`` of ``model`` into :class:`Row` objects; ``nested``
    maps a related field to the reader of the instances it points to."""

    model: type
    names: list[str]
    nested: dict[str, RowReader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        meta = self.model._meta
        fields = [meta.get_field(name) for name in dict.fromkeys(self.names)]  # unknown: raises
        self.fields = [f for f in fields if f is not meta.pk_field]

    # -- reading --------------------------------------------------------------------

    def read(self, items: Any) -> list[Row]:
        """Rows for ``items``: a collection (read as filtered, sorted and sliced), or an
        iterable of instances, rows or pks (in that order)."""
        if isinstance(items, ExtendedCollectionManager):
            rows = self._rows_of_values(items.values("pk", *self._value_names(), multi=True))
        elif isinstance(items, CollectionManager):
            rows = [Row(self.model, pk) for pk in items.primary_keys()]
        else:
            rows = [self._row_of(item) for item in items]
        return self._complete(rows)

    def read_counted(
        self, collection: CollectionManager, start: int, stop: int | None = None
    ) -> tuple[int, list[Row]]:
        """``(len(collection), rows of collection[start:stop])``: the count comes in
        the round trip of the page's pks (and single values, for an
        ``ExtendedCollectionManager``), with
        :meth:`~django_limpyd.collection.CollectionManager.count_and_slice`."""
        if isinstance(collection, ExtendedCollectionManager):
            values = collection.values("pk", *self._value_names(), multi=True)
            total, found = values.count_and_slice(start, stop)
            rows = self._rows_of_values(found)
        else:
            total, pks = collection.primary_keys().count_and_slice(start, stop)
            rows = [Row(self.model, pk) for pk in pks]
        return total, self._complete(rows)

    def _value_names(self) -> list[str]:
        """The fields read by the collection script with ``values(..., multi=True)``:
        all of them, multi-value fields included."""
        return [f.name for f in self.fields]

    def _rows_of_values(self, found: Iterable[dict[str, Any]]) -> list[Row]:
        multi = [
            (f.name, f.storage_type)
            for f in self.fields
            if f.storage_type not in SINGLE_VALUE_TYPES
        ]
        rows = []
        for values in found:
            for name, storage_type in multi:
                values[name] = _shape(storage_type, values[name])
            rows.append(Row(self.model, values.pop("pk"), values))
        return rows

    def _complete(self, rows: list[Row]) -> list[Row]:
        """``rows`` with their other fields read (one pipeline), and their related
        fields resolved by the nested readers."""
        self._read_missing(rows)
        groups: dict[tuple[Any, ...], tuple[RowReader, list[str]]] = {}
        for name, reader in self.nested.items():  # fields reading the same rows: once
            groups.setdefault(reader.signature(), (reader, []))[1].append(name)
        for reader, names in groups.values():
            reader.resolve(rows, names)
        return rows

    def signature(self) -> tuple[Any, ...]:
        """What this reader reads: readers with the same signature make the same rows."""
        nested = tuple(sorted((name, r.signature()) for name, r in self.nested.items()))
        return (self.model, tuple(f.name for f in self.fields), nested)

    def _row_of(self, item: Any) -> Row:
        if isinstance(item, Row):
            return item
        if hasattr(item, "_meta") and hasattr(item, "pk"):  # a model instance
            pk = item.pk.get()
            if pk is None:
                raise ValueError(f"This {type(item).__name__} is not saved: it has no values.")
            return Row(self.model, pk)
        return Row(self.model, self.model._meta.pk_field.normalize(item))

    def _read_missing(self, rows: list[Row]) -> None:
        """Read, in one pipeline, the fields each row does not hold yet."""
        pipe = None
        shapes: list[tuple[Row, str, Any]] = []
        for row in rows:
            missing = [f for f in self.fields if f.name not in row]
            if not missing:
                continue
            if pipe is None:
                pipe = self.model._meta.database.connection.pipeline(transaction=False)
            instance = self.model.lazy_connect(row.pk)
            hashed = [f.name for f in missing if f.storage_type == "hfield"]
            if hashed:
                pipe.hmget(instance.get_field(hashed[0]).key, hashed)
                shapes.append((row, "hfield", hashed))
            for model_field in missing:
                if model_field.storage_type != "hfield":
                    key = instance.get_field(model_field.name).key
                    queue_key_read(pipe, model_field.storage_type, key, scores=True)
                    shapes.append((row, model_field.storage_type, model_field.name))
        if pipe is None:
            return
        for (row, storage_type, names), reply in zip(shapes, pipe.execute(), strict=True):
            if storage_type == "hfield":
                row.update(zip(names, reply, strict=True))
            else:
                row[names] = _shape(storage_type, reply)

    # -- nested ---------------------------------------------------------------------

    def resolve(self, rows: Iterable[Row], names: list[str]) -> None:
        """Replace the pks the related fields ``names`` hold in ``rows`` by rows of this
        reader's model, all read at once."""
        rows = list(rows)
        wanted: dict[str, None] = {}
        for row in rows:
            for name in names:
                wanted.update(dict.fromkeys(_pks_in(row.get(name))))
        if not wanted:
            return
        found = {row.pk: row for row in self.read(list(wanted))}
        for row in rows:
            for name in names:
                value = row.get(name)
                if isinstance(value, str):
                    row[name] = found[value]
                elif isinstance(value, (list, dict)) and not isinstance(value, Row):
                    row[name] = [found[pk] if isinstance(pk, str) else pk for pk in value]


def _pks_in(value: Any) -> list[str]:
    """The pks a related field's value holds (not yet replaced by rows)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, dict)) and not isinstance(value, Row):
        return [pk for pk in value if isinstance(pk, str)]
    return []
