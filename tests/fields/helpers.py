"""What the multi-value field tests share: index configurations and raw readers."""

from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex


def upper(value):
    return value.upper()


#: the index configurations every indexed multi-value field is tested with
CONFIGS = {
    "indexable": {"indexable": True},
    "unique": {"unique": True},
    "text": {"indexable": True, "indexes": [TextRangeIndex]},
    "number": {"indexable": True, "indexes": [NumberRangeIndex]},
    "transform": {"indexable": True, "indexes": [EqualIndex.configure(transform=upper)]},
    "unique-transform": {"unique": True, "indexes": [EqualIndex.configure(transform=upper)]},
}


def keyspace(database):
    return sorted(database.connection.keys())


def index_entries(index, pk):
    """The values under which ``index`` holds instance ``pk``."""
    meta = index.field.model._meta
    connection = meta.database.connection
    base = index.storage_base
    found = set()
    if index.kind == "eq":
        keys = list(connection.scan_iter(match=meta.keys.pattern_after(base), count=1000))
        pipe = connection.pipeline(transaction=False)
        for key in keys:
            pipe.sismember(key, pk)
        return {key[len(base) :] for key, held in zip(keys, pipe.execute(), strict=True) if held}
    for member in connection.zrange(base, 0, -1):
        value, _, owner = member.rpartition("\0")
        if owner == pk:
            found.add(value)
    return found
