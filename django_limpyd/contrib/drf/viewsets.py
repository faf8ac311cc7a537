"""Generic views and viewsets over Redis models: DRF's, on collections.

.. code-block:: python

    class PersonViewSet(RedisModelViewSet):
        serializer_class = PersonSerializer      # its Meta.model is the model
        ordering = "name"                        # default ordering (RedisOrderingFilter)

    router = DefaultRouter()
    router.register("persons", PersonViewSet, basename="person")

The queryset is a collection of the model (an ``ExtendedCollectionManager``, so
that a page's values come with its pks); ``queryset = Person.collection(...)``
or ``get_queryset()`` restrict it. ``lookup_field`` is ``pk`` (any pk text but
``/``); another indexed field may be used. A serializer that is not a
``RedisModelSerializer`` gets model instances, as in DRF. Round trips per request
with a RedisModelSerializer (``m``: it shows multi-value fields; ``u`` unique
values and ``r`` related fields given):

=================  =====================================================  ==============
request            what is sent                                           round trips
=================  =====================================================  ==============
list (page)        the count with the page and its single values; its     1 (+1 if m)
                   multi-value fields (one pipeline)
retrieve           the instance with its single values; its multi-value   1 (+1 if m)
                   fields
create             u + r checks; ``Model(**values)``; the new instance    2 + u + r
update             the instance; u + r checks; the write(s); the instance 3 + u + r
destroy            the instance; ``delete()``                             2
=================  =====================================================  ==============
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import mixins
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ViewSetMixin

from django_limpyd.contrib.drf.filters import RedisFilterBackend, RedisOrderingFilter
from django_limpyd.contrib.drf.pagination import RedisPageNumberPagination
from django_limpyd.contrib.drf.reading import Row
from django_limpyd.contrib.drf.serializers import RedisModelSerializer
from django_limpyd.contrib.related.collections import manager_for
from django_limpyd.exceptions import ImplementationError, InvalidValue

__all__ = [
    "RedisGenericAPIView",
    "RedisGenericViewSet",
    "RedisModelViewSet",
    "RedisReadOnlyModelViewSet",
]


class RedisGenericAPIView(GenericAPIView):
    """DRF's ``GenericAPIView`` whose queryset is a collection of a Redis model."""

    #: the Redis model (default: the serializer's ``Meta.model``)
    model: type | None = None
    lookup_field = "pk"
    lookup_value_regex = "[^/]+"
    filter_backends = [RedisFilterBackend, RedisOrderingFilter]
    pagination_class = RedisPageNumberPagination

    def get_model(self) -> type:
        """The Redis model of the view."""
        if self.model is not None:
            return self.model
        if self.queryset is not None:
            return self.queryset.model
        meta = getattr(self.get_serializer_class(), "Meta", None)
        model = getattr(meta, "model", None)
        if model is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: set `model`, `queryset` or a serializer_class with "
                "a Meta.model."
            )
        return model

    def get_queryset(self) -> Any:
        """A new collection of the model (``queryset`` cloned if set); of instances
        (connected lazily) for a serializer that is not a RedisModelSerializer."""
        if self.queryset is not None:
            collection = self.queryset.all()
        else:
            model = self.get_model()
            collection = model.collection(manager=manager_for(model))
        serializer_class = self.get_serializer_class()
        if not (
            isinstance(serializer_class, type)
            and issubclass(serializer_class, RedisModelSerializer)
        ):
            collection = collection.instances(lazy=True)
        return collection

    def _lookup(self, queryset: Any) -> Any:
        """``queryset`` restricted to the instance named in the URL."""
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs[lookup_url_kwarg]
        try:
            return queryset(**{self.lookup_field: value})
        except (ImplementationError, InvalidValue) as exc:
            if self.lookup_field == "pk":
                raise NotFound() from exc  # not a pk this model can have
            raise

    def get_object(self) -> Any:
        """The instance named in the URL (one round trip: the collection script checks
        it exists and matches the queryset and filters), or 404."""
        queryset = self._lookup(self.filter_queryset(self.get_queryset()))
        found = list(queryset.instances()[:1])
        if not found:
            raise NotFound()
        instance = found[0]
        self.check_object_permissions(self.request, instance)
        return instance

    def get_object_row(self, serializer: RedisModelSerializer) -> Row:
        """The :class:`Row` of the instance named in the URL, read with the fields
        ``serializer`` shows (its single values in the same round trip as the lookup)."""
        queryset = self._lookup(self.filter_queryset(self.get_queryset()))
        rows = serializer.read_rows(queryset[:1])
        if not rows:
            raise NotFound()
        self.check_object_permissions(self.request, rows[0].instance)
        return rows[0]


class RedisGenericViewSet(ViewSetMixin, RedisGenericAPIView):
    """DRF's ``GenericViewSet`` for Redis models (add the mixins you need)."""


class _RetrieveRowMixin(mixins.RetrieveModelMixin):
    """``retrieve`` reading the instance's values with the lookup (a serializer that
    is not a RedisModelSerializer gets the instance, as in DRF)."""

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer()
        if not isinstance(serializer, RedisModelSerializer):
            return super().retrieve(request, *args, **kwargs)  # get_object(), then read
        row = self.get_object_row(serializer)
        return Response(self.get_serializer(row).data)


class _DestroyMixin(mixins.DestroyModelMixin):
    """``destroy`` answering 404 if the instance vanished since it was found."""

    def perform_destroy(self, instance: Any) -> None:
        if not instance.delete():
            raise NotFound()


class RedisReadOnlyModelViewSet(_RetrieveRowMixin, mixins.ListModelMixin, RedisGenericViewSet):
    """``list`` and ``retrieve`` of a Redis model."""


class RedisModelViewSet(
    _RetrieveRowMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    _DestroyMixin,
    mixins.ListModelMixin,
    RedisGenericViewSet,
):
    """``list``, ``create``, ``retrieve``, ``update``, ``partial_update`` and
    ``destroy`` of a Redis model, with the routers' usual routes."""
