"""The shapes a collection can return its results in, one small class each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["InstancesResult", "PksResult"]


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
