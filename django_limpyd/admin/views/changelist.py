"""The list of a model's instances: filters, search, sort, pages, delete action.

The rows of a page are read with ``count_and_slice()`` of an
``ExtendedCollectionManager.values()`` collection: how many instances match,
and the filtered, sorted and sliced page with its values, in one round trip;
Django's ``Paginator`` then only lays the pages out. A page number that is not
one (``x``, ``0``, ``-1``) shows the first page; a page past the last one is a
404 (as Django's ``ListView``), never silently another page.
A filtered list also reads the model's total (``12 of 10,000 persons``:
``collection().count()``, counted by Redis). None of it grows with the number
of instances: a page of a model of a million costs the commands it costs for a
thousand (see :mod:`django_limpyd.admin.filters` for the equality choices).

The delete action is a POST of the selected pks, or of ``select_across=1`` (every
instance the list's filters and search match, the "Select all N" of the action
bar); it answers a confirmation page listing what will go, whose POST
(``post=yes``) deletes, logs each deletion in Django's admin log, and says which
selected instances did not exist any more. ``?_popup=1`` is the list opened by a
related field's lookup link: clicking a row gives its pk to the input.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.formats import number_format

from django_limpyd.admin import history
from django_limpyd.admin.filters import (
    PAGE_PARAM,
    POPUP_PARAM,
    SEARCH_FIELD_PARAM,
    SEARCH_PARAM,
    SORT_PARAM,
    Filters,
    query_string,
)
from django_limpyd.admin.views.base import ModelView, describe_instances, related_model
from django_limpyd.exceptions import ImplementationError, InvalidValue

__all__ = ["ChangeListView"]

ACTION_DELETE = "delete_selected"
SELECTED = "_selected_action"
#: "every instance of the list" instead of the selected rows (Django admin's name)
SELECT_ACROSS = "select_across"
#: the most instances a confirmation page lists
CONFIRM_MAX = 100


def grouped(number: int) -> str:
    """``10,000``."""
    return number_format(number, force_grouping=True)


#: the rows a list can page through (a page asked after them is past the end)
MAX_ROWS = 10**12


def page_number(value: str | None, per_page: int) -> int:
    """The page asked (``_p``, from 1); anything else than a number from 1: the
    first; a page after ``MAX_ROWS`` rows: the one just after them (past the end)."""
    try:
        number = max(int(value or 1), 1)
    except ValueError:
        return 1
    return min(number, MAX_ROWS // per_page + 1)


class CountedPage:
    """What Django's ``Paginator`` pages when ``count_and_slice()`` has already read
    the count and the rows of the page: ``count()`` is that count, and slicing gives
    those rows (the paginator only asks for the page they were read for)."""

    def __init__(self, total: int, start: int, rows: list[Any]) -> None:
        self.total, self.start, self.rows = total, start, rows

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, item: slice) -> list[Any]:
        if item.start != self.start:
            raise IndexError(f"Only the rows from {self.start} were read.")
        return self.rows


class _TextSortFallback:
    """``count_and_slice()`` of a collection sorted by number, or, when Redis finds
    values that are not numbers, of the same collection sorted as text."""

    def __init__(self, by_number: Any, by_text: Any) -> None:
        self.by_number, self.by_text = by_number, by_text

    def count_and_slice(self, start: int, stop: int) -> tuple[int, list[Any]]:
        try:
            return self.by_number.count_and_slice(start, stop)
        except ImplementationError:
            self.by_number = self.by_text  # and for the last page, if asked next
            return self.by_text.count_and_slice(start, stop)


class ChangeListView(ModelView):
    """``<app_label>/<model_name>/``: GET lists, POST runs the delete action."""

    def get(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        return self.render_list()

    # -- the list -------------------------------------------------------------------

    def render_list(self) -> HttpResponse:
        request, admin = self.request, self.model_admin
        params = request.GET
        filters = Filters(admin, params)
        columns = [admin.column(item) for item in admin.get_list_display()]
        sort_name, desc = self._sort(params.get(SORT_PARAM, ""))
        names = list(dict.fromkeys(["pk"] + [c["name"] for c in columns if c["field"]]))
        label = admin.get_label_field()
        if label not in names:
            names.append(label)
        collection = filters.collection()
        per_page = admin.list_per_page
        number = page_number(params.get(PAGE_PARAM), per_page)
        values = self._values(collection, sort_name, desc, names)
        total, rows = values.count_and_slice((number - 1) * per_page, number * per_page)
        if not rows and number > 1:  # past the end
            last = max(math.ceil(total / per_page), 1)
            raise Http404(f"There is no page {number}: the list has {last} page{'s' * (last > 1)}.")
        paginator = Paginator(CountedPage(total, (number - 1) * per_page, rows), per_page)
        page = paginator.page(number)
        if filters.active:
            total = self.model.collection().count()  # counted by Redis, one call
        popup = POPUP_PARAM in params
        can_delete = admin.has_delete_permission(request) and not popup
        return self.render(
            "django_limpyd/change_list.html",
            title=f"Select {self.opts.verbose_name} to change"
            if self.model_admin.has_change_permission(request)
            else f"Select {self.opts.verbose_name} to view",
            subtitle=None,
            **self.model_context(
                filters=filters,
                headers=self._headers(columns, sort_name, desc),
                rows=[self._row(row, columns) for row in rows],
                page_obj=page,
                page_range=list(
                    paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
                ),
                result_count=grouped(paginator.count),
                full_count=grouped(total),
                filtered=filters.active,
                verbose_count=self.opts.verbose_name
                if paginator.count == 1 and not filters.active
                else self.opts.verbose_name_plural,
                search_param=SEARCH_PARAM,
                search_field_param=SEARCH_FIELD_PARAM,
                page_param=PAGE_PARAM,
                actions=[(ACTION_DELETE, f"Delete selected {self.opts.verbose_name_plural}")]
                if can_delete
                else [],
                selected_param=SELECTED,
                select_across_param=SELECT_ACROSS,
                selection_note=f"0 of {len(rows)} selected",
                selection_note_all=f"All {grouped(paginator.count)} selected",
                rows_on_page=len(rows),
                is_popup=popup,
                has_add_permission=admin.has_add_permission(request) and not popup,
                popup_param=POPUP_PARAM,
            ),
        )

    def _sort(self, value: str) -> tuple[str, bool]:
        name, desc = value.lstrip("-"), value.startswith("-")
        if value and self.model_admin.is_sortable(name):
            field = self.opts.get_field(name)
            return ("pk" if field is self.opts.pk_field else field.name), desc
        return self.model_admin.get_ordering()

    def _values(self, collection: Any, name: str, desc: bool, names: list[str]) -> Any:
        """The sorted collection of the rows' values (sorted as text when the values
        of a column sorted as numbers are not all numbers)."""
        alpha = not self.model_admin.sorts_as_numbers(name)
        by = None if name == "pk" else name
        values = collection.sort(by=by, alpha=alpha, desc=desc).values(*names)
        if alpha:
            return values
        return _TextSortFallback(
            values, collection.sort(by=by, alpha=True, desc=desc).values(*names)
        )

    def _headers(self, columns: list[dict[str, Any]], sort_name: str, desc: bool) -> list[dict]:
        params = self.request.GET
        headers = []
        for column in columns:
            header: dict[str, Any] = {"title": column["title"], "name": column["name"]}
            if column["field"] is not None:
                sorted_here = column["name"] == sort_name
                header.update(
                    sortable=True,
                    sorted=sorted_here,
                    ascending=sorted_here and not desc,
                    url=query_string(
                        params,
                        **{SORT_PARAM: ("-" if sorted_here and not desc else "") + column["name"]},
                    ),
                )
            headers.append(header)
        return headers

    def _row(self, values: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
        pk = values["pk"]
        links = self.model_admin.get_list_display_links(columns)
        cells = []
        for column in columns:
            if column["field"] is not None:
                value = values.get(column["name"])
                target = related_model(column["field"])
                cell: dict[str, Any] = {"value": value}
                if target is not None and value is not None:
                    cell["url"] = self.site.reverse(
                        "change", target._meta.app_label, target._meta.model_name, quote(value)
                    )
            else:
                cell = {"value": column["getter"](values)}
            cell["name"] = column["name"]
            if column["name"] in links:
                cell["url"] = self.url("change", pk)
                if POPUP_PARAM in self.request.GET:
                    cell["popup_pk"] = pk  # a lookup popup: gives the pk to the input
            cells.append(cell)
        return {"pk": pk, "cells": cells}

    # -- the delete action ----------------------------------------------------------

    def post(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("delete")
        back = HttpResponseRedirect(request.get_full_path())
        if request.POST.get("action") != ACTION_DELETE:
            messages.warning(request, "No action selected.", fail_silently=True)
            return back
        across = request.POST.get(SELECT_ACROSS) == "1"
        if across:  # every instance of the list (its filters and search)
            pks = list(Filters(self.model_admin, request.GET).collection())
        else:
            pks = []
            for raw in request.POST.getlist(SELECTED):
                try:
                    pks.append(self.opts.pk_field.normalize(raw))
                except InvalidValue:
                    continue
            pks = list(dict.fromkeys(pks))
        if not pks and across:
            messages.warning(request, "The list is empty: nothing to delete.", fail_silently=True)
            return back
        if not pks:
            messages.warning(
                request,
                "Items must be selected in order to perform actions on them.",
                fail_silently=True,
            )
            return back
        if request.POST.get("post") == "yes":
            self.delete(pks)
            return back
        instances = describe_instances(self.site, self.model_admin, pks[:CONFIRM_MAX])
        return self.render(
            "django_limpyd/delete_selected_confirmation.html",
            title="Delete multiple objects",
            **self.model_context(
                instances=instances,
                count=len(pks),
                more=max(len(pks) - CONFIRM_MAX, 0),
                across=across,
                action=ACTION_DELETE,
                selected_param=SELECTED,
                select_across_param=SELECT_ACROSS,
            ),
        )

    def delete(self, pks: list[str]) -> None:
        """Delete the instances ``pks`` (each with its index entries), log each deletion,
        and say what was deleted and which did not exist any more."""
        request, admin = self.request, self.model_admin
        labels = {item["pk"]: item["label"] for item in describe_instances(self.site, admin, pks)}
        deleted, missing = [], []
        for pk in pks:
            if pk in labels and self.model.lazy_connect(pk).delete():
                deleted.append(pk)
                history.log_deletion(request, admin, pk, labels[pk])
            else:
                missing.append(pk)

        def noun(count: int) -> str:
            return self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural

        if deleted:
            messages.success(
                request,
                f"Successfully deleted {grouped(len(deleted))} {noun(len(deleted))}.",
                fail_silently=True,
            )
        if missing:
            shown = ", ".join(f"“{pk}”" for pk in missing[:10]) + ("…" if len(missing) > 10 else "")
            messages.warning(
                request,
                (
                    f"Nothing was deleted: no {self.opts.verbose_name} with pk {shown} exists."
                    if not deleted
                    else f"{grouped(len(missing))} selected {noun(len(missing))} did not "
                    f"exist any more: {shown}."
                ),
                fail_silently=True,
            )
