"""Paginators reading a page of a collection at once.

A page is a slice of the collection (Redis ``SORT ... LIMIT``), read with the
values the view's serializer shows by the same collection script: one round
trip for the page (one more if the serializer shows multi-value fields, for all
the page's rows at once). A collection that is not sorted is sorted by pk, so
that pages do not overlap.

* :class:`RedisPageNumberPagination` (``?page=3``): DRF's page-number
  pagination; the ``count`` is answered by Redis (``SCARD`` of the filtered
  set, no pk fetched) in the same round trip as the page
  (:meth:`~django_limpyd.collection.CollectionManager.count_and_slice`), except
  for ``?page=last``, whose number needs the count first (one more round trip).
* :class:`RedisCursorPagination` (``?cursor=...``): the cursor holds the offset
  of the page (an opaque base64 token, as DRF's cursors). No count: one round
  trip per page, the page being read with one extra row to know whether there is
  a next one. Offsets are positions: an instance added or deleted before the
  page shifts it by one (DRF's position cursors avoid that with range filters on
  the ordering field, which a Redis collection sorted by ``SORT`` cannot use).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib import parse

from django.core.paginator import InvalidPage
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from django_limpyd.collection import CollectionManager

__all__ = [
    "RedisCursorPagination",
    "RedisPageNumberPagination",
    "read_counted_page",
    "read_page",
    "sorted_by_pk",
]


def sorted_by_pk(queryset: Any) -> Any:
    """``queryset`` as it is if sorted, else sorted by pk (numbers for AutoPKField)."""
    if getattr(queryset, "ordered", True):
        return queryset
    pk_field = queryset.model._meta.pk_field
    return queryset.sort(by="pk", alpha=not pk_field.auto)


def positive_int(text: str, *, strict: bool = False, cutoff: int | None = None) -> int:
    """``text`` as an int >= 0 (> 0 if ``strict``), at most ``cutoff``; ValueError else."""
    value = int(text)
    if value < 0 or (strict and value == 0):
        raise ValueError(f"{text!r} is not a positive number.")
    return min(value, cutoff) if cutoff else value


def _redis_serializer(view: Any) -> Any:
    """The view's serializer if it is a RedisModelSerializer, else ``None``."""
    from django_limpyd.contrib.drf.serializers import RedisModelSerializer

    get_serializer = getattr(view, "get_serializer", None)
    serializer = get_serializer() if get_serializer is not None else None
    return serializer if isinstance(serializer, RedisModelSerializer) else None


def read_page(items: Any, view: Any) -> list[Any]:
    """The rows of a slice of a collection, read with the fields the view's serializer
    shows; the collection's own results for a view without a RedisModelSerializer."""
    serializer = _redis_serializer(view)
    if serializer is not None:
        return serializer.read_rows(items)
    return list(items)


def read_counted_page(
    collection: CollectionManager, start: int, stop: int | None, view: Any
) -> tuple[int, list[Any]]:
    """``(len(collection), rows of collection[start:stop])`` as :func:`read_page`
    reads them, the count in the same round trip as the page."""
    serializer = _redis_serializer(view)
    if serializer is not None:
        return serializer.get_reader().read_counted(collection, start, stop)
    return collection.count_and_slice(start, stop)


class RedisPageNumberPagination(PageNumberPagination):
    """``?page=N`` (and ``?page_size=`` if ``page_size_query_param`` is set): the count
    and the page in one round trip (``?page=last``: the count, then the page)."""

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        paginator = self.django_paginator_class(sorted_by_pk(queryset), page_size)
        page_number = self.get_page_number(request, paginator)
        rows = self.read_counted(paginator, page_number, request, view)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(
                self.invalid_page_message.format(page_number=page_number, message=str(exc))
            ) from exc
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        if not paginator.count:
            rows = []
        elif rows is None:
            rows = read_page(self.page.object_list, view)
        else:  # the rows Django's page keeps (a last page takes its orphans)
            rows = rows[: self.page.end_index() - self.page.start_index() + 1]
        self.page.object_list = rows
        return rows

    def read_counted(
        self, paginator: Any, page_number: Any, request: Request, view: Any
    ) -> list[Any] | None:
        """The rows of page ``page_number``, read in the round trip that counts the
        collection; the count is given to ``paginator``. ``None`` when the paginator
        reads them itself: the count is known already (``?page=last``), the number
        is not a positive int (the paginator's error follows), or the queryset is
        not a collection."""
        collection = paginator.object_list
        if not isinstance(collection, CollectionManager):
            return None
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return None
        try:
            number = int(page_number)
        except (TypeError, ValueError):
            return None
        if number < 1:
            return None
        start = (number - 1) * paginator.per_page
        # up to ``orphans`` more rows: Django's last page takes them
        stop = start + paginator.per_page + paginator.orphans
        # Paginator.count is a cached_property: set, it is not asked again
        paginator.count, rows = read_counted_page(collection, start, stop, view)
        return rows


class RedisCursorPagination(BasePagination):
    """``?cursor=...``: next/previous links holding the offset of the page; one round
    trip per page, no count."""

    cursor_query_param = "cursor"
    cursor_query_description = "The pagination cursor value."
    page_size = api_settings.PAGE_SIZE
    #: set to e.g. ``"page_size"`` to let clients choose the page size
    page_size_query_param: str | None = None
    page_size_query_description = "Number of results to return per page."
    max_page_size: int | None = None
    invalid_cursor_message = "Invalid cursor"
    template = "rest_framework/pagination/previous_and_next.html"

    def get_page_size(self, request: Request) -> int | None:
        """The page size of the request (``page_size_query_param``) or the default."""
        if self.page_size_query_param:
            try:
                return positive_int(
                    request.query_params[self.page_size_query_param],
                    strict=True,
                    cutoff=self.max_page_size,
                )
            except (KeyError, ValueError):
                pass
        return self.page_size

    def decode_cursor(self, request: Request) -> int:
        """The offset in the request's cursor (0 without one); 404 for a bad cursor."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return 0
        try:
            querystring = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True, strict_parsing=True)
            return positive_int(tokens["o"][0])
        except (binascii.Error, UnicodeError, KeyError, ValueError, IndexError):
            raise NotFound(self.invalid_cursor_message) from None

    def encode_cursor(self, offset: int) -> str:
        """The URL of the page at ``offset`` (no cursor for the first page)."""
        if offset <= 0:
            return remove_query_param(self.base_url, self.cursor_query_param)
        encoded = base64.b64encode(parse.urlencode({"o": offset}).encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        size = self.get_page_size(request)
        if not size:
            return None
        self.size = size
        self.base_url = request.build_absolute_uri()
        self.offset = self.decode_cursor(request)
        rows = read_page(sorted_by_pk(queryset)[self.offset : self.offset + size + 1], view)
        self.has_next = len(rows) > size
        self.has_previous = self.offset > 0
        if self.template is not None and (self.has_next or self.has_previous):
            self.display_page_controls = True
        return rows[:size]

    def get_next_link(self) -> str | None:
        """The URL of the next page, if there is one."""
        return self.encode_cursor(self.offset + self.size) if self.has_next else None

    def get_previous_link(self) -> str | None:
        """The URL of the previous page, if this is not the first one."""
        if not self.has_previous:
            return None
        return self.encode_cursor(max(self.offset - self.size, 0))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_html_context(self) -> dict[str, Any]:
        return {"previous_url": self.get_previous_link(), "next_url": self.get_next_link()}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            }
        ]
        if self.page_size_query_param is not None:
            parameters.append(
                {
                    "name": self.page_size_query_param,
                    "required": False,
                    "in": "query",
                    "description": self.page_size_query_description,
                    "schema": {"type": "integer"},
                }
            )
        return parameters
