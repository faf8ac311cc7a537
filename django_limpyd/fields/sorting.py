"""``SORT`` for multi-value fields (read-only: ``store`` is refused)."""

from __future__ import annotations

from typing import Any

from django_limpyd.exceptions import ImplementationError

__all__ = ["SortableMixin"]


class SortableMixin:
    """Adds Redis ``SORT`` of the field's members (arguments as redis-py, no ``store``)."""

    extra_getters = ("sort",)

    def sort(self, *args: Any, **kwargs: Any) -> Any:
        """Redis ``SORT`` of this field's values (``store`` is not allowed)."""
        if kwargs.get("store") is not None or len(args) >= 7:
            raise ImplementationError(
                f"{self.describe()}.sort(): store= is not supported (it writes outside the model)."
            )
        return self._read("sort", *args, **kwargs)
