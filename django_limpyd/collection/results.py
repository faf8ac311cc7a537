"""The shapes a collection can return its results in, one small class each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

__all__ = ["CollectionResults", "InstancesResult", "PksResult"]


class PksResult:
    """Primary keys, as strings."""

    #: whether the script should drop pks that no longer exist
    check_existence = False

    def __init__(self, model: type) -> None:
        self.model = model

    def plan_values(self) -> list[dict[str, Any]] | None:
        """What the script must return per pk instead of the pk (``None``: the pk)."""
        return None

    def convert(self, pks: Iterable[str]) -> list[Any]:
        """The results for these pks."""
        return list(pks)


class InstancesResult(PksResult):
    """Model instances (pks of vanished instances skipped unless ``lazy``)."""

    def __init__(self, model: type, lazy: bool = False) -> None:
        super().__init__(model)
        self.lazy = lazy
        self.check_existence = not lazy

    def convert(self, pks: Iterable[str]) -> list[Any]:
        """Instances connected without a round trip (existence checked by the script)."""
        return [self.model._connected(pk, checked=not self.lazy) for pk in pks]


class CollectionResults(chain):
    """The evaluated results of a collection, as ``iter(collection)`` gives them (as
    limpyd's ``CollectionResults``): an iterator (``next()``) that is also a sequence
    (``len()``, ``[i]``, iterated again from the start by ``for``), equal to the list
    (or set) of its results, shown as ``<CollectionResults [...]>``.

    A subclass of ``itertools.chain`` over the results list: its ``next()`` is C
    code, so iterating a collection costs no Python call per result.
    """

    __slots__ = ("_data",)

    #: how many results ``repr()`` shows
    MAX_REPR_ITEMS = 20

    def __new__(cls, data: list[Any]) -> CollectionResults:
        results = super().__new__(cls, data)
        results._data = data
        return results

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __getitem__(self, item: int | slice) -> Any:
        return self._data[item]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return self._data == other
        if isinstance(other, set):
            return set(self._data) == other
        if isinstance(other, CollectionResults):
            return self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {results_repr(self._data, self.MAX_REPR_ITEMS)}>"


def results_repr(data: list[Any], most: int) -> str:
    """``repr(data)``, cut after ``most`` items as limpyd does."""
    if len(data) <= most:
        return repr(data)
    shown = [*data[:most], f"... ({len(data) - most} remaining elements truncated)..."]
    return repr(shown)
