"""``MultiIndexes``: one index class declared on a field, several indexes managed.

``MultiIndexes.compose([IndexA, IndexB, ...], name=, key=, transform=)`` returns a
class that a field declares like any index class. When the field is attached to
its model, :meth:`MultiIndexes.expand` gives the field one index object per
composed class (recursively: a composition may compose compositions), each
configured so that

* the composition's ``transform`` runs before the part's own (outermost first),
* the composition's ``key`` keeps the part's storage apart from the same class
  composed elsewhere (``key`` alone when the part has none, else
  ``"<composition key>:<part key>"``),
* the part keeps its ``prefix`` (a part without prefix takes the composition's),
* ``handle_uniqueness=False`` on the composition turns it off for every part,
* its id is ``"field/position.sub"`` (``"date/0.2.1"``: third part of the first
  declared class, second part of that one), unique on the field.

Filters then reach the parts directly: ``field__year=2015`` is answered by the
part whose prefix is ``year``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes.base import BaseIndex

if TYPE_CHECKING:
    from django_limpyd.fields.base import RedisField

__all__ = ["MultiIndexes"]


def _call(function: Callable[..., Any], index: BaseIndex, value: Any) -> Any:
    """A transform of ``value`` or of ``(index, value)``, as ``BaseIndex`` calls them."""
    if len(inspect.signature(function).parameters) >= 2:
        return function(index, value)
    return function(value)


def chain_transforms(
    outer: Callable[..., Any] | None, inner: Callable[..., Any] | None
) -> Callable[..., Any] | None:
    """A transform applying ``outer`` then ``inner`` (``None`` from one: not indexed)."""
    if outer is None:
        return inner
    if inner is None:
        return outer

    def transform(index: BaseIndex, value: Any) -> Any:
        value = _call(outer, index, value)
        if value is None:
            return None
        return _call(inner, index, value)

    transform.__qualname__ = transform.__name__ = (
        f"{getattr(outer, '__name__', 'transform')}+{getattr(inner, '__name__', 'transform')}"
    )
    return transform


class MultiIndexes(BaseIndex):
    """An index made of other indexes (see :meth:`compose`)."""

    #: the composed index classes (set by :meth:`compose`)
    index_classes: ClassVar[tuple[type[BaseIndex], ...]] = ()

    def __init__(self, field: RedisField, position: int | str) -> None:
        raise ImplementationError(
            f"{type(self).__name__} is a composition of indexes: a field expands it into "
            "its parts (MultiIndexes.expand), it is never an index object itself."
        )

    @classmethod
    def compose(
        cls,
        index_classes: Iterable[type[BaseIndex]],
        *,
        name: str | None = None,
        key: str | None = None,
        transform: Callable[..., Any] | None = None,
    ) -> type[MultiIndexes]:
        """A new composition of ``index_classes`` (each an index class, compositions
        included), named ``name`` (default: this class's name). ``key`` keeps its
        parts' storages apart from the same classes composed elsewhere on the field;
        ``transform`` runs before the parts' own transforms."""
        classes = tuple(index_classes)
        if not classes:
            raise ImplementationError("MultiIndexes.compose() needs at least one index class.")
        for index_class in classes:
            if not (isinstance(index_class, type) and issubclass(index_class, BaseIndex)):
                raise ImplementationError(
                    f"MultiIndexes.compose() takes index classes, got {index_class!r}."
                )
        attrs = {"__module__": cls.__module__, "index_classes": classes}
        composed = type(name or cls.__name__, (cls,), attrs)
        settings: dict[str, Any] = {}
        if key is not None:
            settings["key"] = key
        if transform is not None:
            settings["transform"] = transform
        if settings:
            composed = composed.configure(name=composed.__name__, **settings)
        return composed

    @classmethod
    def configure_part(cls, part: type[BaseIndex]) -> type[BaseIndex]:
        """``part`` as this composition manages it (see the module docstring)."""
        attrs: dict[str, Any] = {"__module__": part.__module__}
        transform = chain_transforms(cls.transform, part.transform)
        if transform is not part.transform:
            attrs["transform"] = staticmethod(transform)
        if cls.key:
            attrs["key"] = f"{cls.key}:{part.key}" if part.key else cls.key
        if cls.prefix and not part.prefix:
            attrs["prefix"] = cls.prefix
        if not cls.handle_uniqueness:
            attrs["handle_uniqueness"] = False
        if len(attrs) == 1:
            return part
        return type(part.__name__, (part,), attrs)

    @classmethod
    def expand(cls, field: RedisField, position: int | str) -> list[BaseIndex]:
        """The index objects of every composed class, configured by this composition."""
        if not cls.index_classes:
            raise ImplementationError(
                f"{cls.__name__} composes no index: build it with MultiIndexes.compose([...])."
            )
        indexes: list[BaseIndex] = []
        for number, part in enumerate(cls.index_classes):
            indexes.extend(cls.configure_part(part).expand(field, f"{position}.{number}"))
        return indexes
