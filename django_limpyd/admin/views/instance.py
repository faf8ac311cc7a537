"""The pages of one instance: change (or view), add, delete, history.

The change page reads everything it shows in one round trip: existence, the
single-value fields (one ``HMGET`` for those of the instance hash, a ``GET``
each for strings), for every other field its TTL, size and first members
through the reader of its Redis type, and for each related field the number of
instances of its target (and their pks when they are few, for a select). The
fields are edited through a Django form (:mod:`django_limpyd.admin.forms`); a
multi-value field holding more than ``multi_value_preview`` members, or bytes
that are not text, is shown, not edited. A set or hash that ``SSCAN``/``HSCAN``
did not give whole in one call is read again with ``SMEMBERS``/``HGETALL``.

Every add, change and delete is written to Django's admin log
(:mod:`django_limpyd.admin.history`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import quote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from django_limpyd.admin import history
from django_limpyd.admin.forms import RelatedChoices, redis_form_factory
from django_limpyd.admin.options import SINGLE_VALUE_TYPES
from django_limpyd.admin.readers import READERS
from django_limpyd.admin.views.base import ModelView, describe_instances, related_model
from django_limpyd.storage.state import queue_read

__all__ = ["AddView", "ChangeView", "DeleteView", "InstanceRedirectView", "format_ttl"]


def format_ttl(seconds: Any) -> str:
    """A ``TTL`` reply for people."""
    if not isinstance(seconds, int) or seconds == -2:
        return "—"
    if seconds == -1:
        return "no expiry"
    return f"{seconds} s ({timedelta(seconds=seconds)})"


class InstanceMixin(ModelView):
    """Reading an instance and naming it."""

    def read(self, pk: str, edit: bool = False) -> dict[str, Any]:
        """Everything the change page shows of instance ``pk`` (with what its form
        needs if ``edit``); 404 if it does not exist."""
        meta = self.opts
        instance = self.model.lazy_connect(pk)
        limit = self.model_admin.multi_value_preview
        pipe = meta.database.connection.pipeline(transaction=False)
        related = self.queue_related(pipe) if edit else None
        pipe.zscore(meta.keys_for(pk).pks, pk)
        hfields = [field for field in meta.data_fields if field.storage_type == "hfield"]
        if hfields:
            pipe.hmget(instance.get_field(hfields[0].name).key, [f.name for f in hfields])
        others = []
        for field in meta.data_fields:
            if field.storage_type == "hfield":
                continue
            key = instance.get_field(field.name).key
            pipe.ttl(key)
            if field.storage_type == "string":
                pipe.get(key)
                reader = None
            else:
                reader = READERS[field.storage_type]
                reader.queue(pipe, key, limit, 0)
            others.append((field, key, reader))
        replies = iter(pipe.execute())
        choices = related(replies) if related is not None else {}
        if next(replies) is None:
            raise Http404(f"No {meta.verbose_name} with pk {pk!r}.")
        values: dict[str, Any] = {"pk": pk}
        if hfields:
            values.update(zip([f.name for f in hfields], next(replies), strict=True))
        rows = {}
        for field, key, reader in others:
            ttl = next(replies)
            row: dict[str, Any] = {"key": key, "ttl": format_ttl(ttl)}
            if reader is None:
                values[field.name] = next(replies)
            else:
                data = reader.shape([next(replies) for _ in range(reader.replies)], limit, None)
                row["edit"] = editable_value(field.storage_type, data, limit)
                target = related_model(field)
                if target is not None:
                    for item in data["items"]:
                        item["url"] = self._instance_url(target, item["value"])
                row["data"] = data
            rows[field.name] = row
        hash_key = instance.get_field(hfields[0].name).key if hfields else None
        fields = []
        for field in meta.data_fields:
            row = rows.get(field.name, {"key": hash_key, "ttl": "—"})
            row.update(
                name=field.name,
                label=field.name.replace("_", " "),
                kind=type(field).__name__,
                single=field.storage_type in SINGLE_VALUE_TYPES,
            )
            if row["single"]:
                value = values.get(field.name)
                row["value"] = value
                target = related_model(field)
                if target is not None and value is not None:
                    row["url"] = self._instance_url(target, value)
                    row["target_label"] = f"{target._meta.verbose_name} {value}"
            fields.append(row)
        self._reread_partial_scans(instance, rows)
        not_editable = {}
        for name, row in rows.items():
            if "edit" not in row:
                continue
            if isinstance(row["edit"], str):
                not_editable[name] = row["edit"]
            else:
                values[name] = row["edit"]
        return {
            "values": values,
            "fields": fields,
            "not_editable": not_editable,
            "related": choices,
        }

    def _reread_partial_scans(self, instance: Any, rows: dict[str, Any]) -> None:
        """Sets and hashes small enough to edit that one SSCAN/HSCAN did not give whole
        (a big encoding): read whole, in one more round trip."""
        partial = [name for name, row in rows.items() if row.get("edit") is PARTIAL]
        if not partial:
            return
        pipe = self.opts.database.connection.pipeline(transaction=False)
        for name in partial:
            if rows[name]["data"]["type"] == "set":
                pipe.smembers(rows[name]["key"])
            else:
                pipe.hgetall(rows[name]["key"])
        for name, value in zip(partial, pipe.execute(), strict=True):
            rows[name]["edit"] = (
                sorted(value) if isinstance(value, set) else dict(sorted(value.items()))
            )

    def queue_related(self, pipe: Any) -> Any:
        """Queue, for the target of each related field of the form, its count and its
        first pks (``ZCARD``, ``ZRANGE``); returns the function reading the replies
        into ``{field name: RelatedChoices}`` (of a sharded target: those of each of
        its shards, merged)."""
        most = self.model_admin.related_select_max
        targets: dict[type, list[str]] = {}
        for name in self.model_admin.get_form_fields():
            target = related_model(self.opts.get_field(name))
            if target is not None:
                targets.setdefault(target, []).append(name)
        for target in targets:
            for stored in target._meta.stored_models:
                pipe.zcard(stored._meta.keys.pks)
                pipe.zrange(stored._meta.keys.pks, 0, most)

        def read(replies: Any) -> dict[str, RelatedChoices]:
            result, offered = {}, []
            for target, names in targets.items():
                count, pks = 0, []
                for _stored in target._meta.stored_models:
                    count, pks = count + next(replies), [*pks, *next(replies)]
                if target._meta.shard_models:
                    auto = target._meta.pk_field.auto
                    pks = sorted(set(pks), key=lambda pk: (int(pk), pk) if auto else (0, pk))
                url = self._list_url(target)
                choices = RelatedChoices(target, list(pks) if count <= most else None, url)
                if choices.pks:
                    offered.append(choices)
                for name in names:
                    result[name] = choices
            self._read_labels(offered)
            return result

        return read

    def _read_labels(self, offered: list[RelatedChoices]) -> None:
        """The labels of the pks a select offers (their admin's ``label_field``), in
        one more round trip when a target is named by a field, not by its pk."""
        reads = []
        for choices in offered:
            name = self.site.get_model_admin(choices.model).get_label_field()
            if name != "pk":
                reads.append((choices, choices.model._meta.get_field(name)))
        if not reads:
            return
        pipe = self.opts.database.connection.pipeline(transaction=False)
        for choices, field in reads:
            shards = choices.model._meta.shard_models
            for pk in choices.pks:
                if shards:  # the field of the target's shard holding pk
                    field = choices.model._meta.shard_model_of(pk)._meta.get_field(field.name)
                queue_read(pipe, field, pk)
        replies = iter(pipe.execute())
        for choices, _field in reads:
            values = {pk: next(replies) for pk in choices.pks}
            choices.labels = {pk: str(value) for pk, value in values.items() if value}

    def _list_url(self, model: type) -> str | None:
        return self.site.reverse("changelist", model._meta.app_label, model._meta.model_name)

    def _instance_url(self, model: type, pk: str) -> str | None:
        return self.site.reverse("change", model._meta.app_label, model._meta.model_name, quote(pk))

    def label(self, pk: str, values: dict[str, Any]) -> str:
        """How the instance is named."""
        return self.model_admin.object_label(pk, values)


#: a set or hash small enough to edit that its first SSCAN/HSCAN did not give whole
PARTIAL = object()


def editable_value(storage_type: str, data: dict[str, Any], limit: int) -> Any:
    """The whole value of a multi-value field as its form field takes it, from what
    its reader read; or why it cannot be edited on the page (a ``str``); or
    :data:`PARTIAL`."""
    if data["size"] > limit:
        return f"more than {limit} items: edit it in code"
    raws = [item["raw"] for item in data["items"]]
    try:
        if storage_type == "zset":
            decoded: Any = {_text(member): float(score) for member, score in raws}
        elif storage_type == "hash":
            decoded = {_text(key): _text(value) for key, value in raws}
        else:
            decoded = [_text(value) for value in raws]
    except UnicodeDecodeError:
        return "it holds bytes that are not text"
    if len(raws) < data["size"]:
        return PARTIAL if storage_type in ("set", "hash") else "not read whole"
    return decoded


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ChangeView(InstanceMixin):
    """``.../<pk>/change/``: every field; the single-value ones editable."""

    def get(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        pk = self.object_pk(object_id)
        can_change = self.model_admin.has_change_permission(request)
        data = self.read(pk, edit=can_change)
        form = None
        if can_change:
            form = self.form(pk, data)
        return self.page(pk, data, form)

    def form(self, pk: str, data: dict[str, Any], post: Any = None) -> Any:
        """The form of instance ``pk`` from what :meth:`read` read."""
        return redis_form_factory(self.model_admin, adding=False)(
            post,
            pk=pk,
            values=data["values"],
            related=data["related"],
            not_editable=data["not_editable"],
        )

    def post(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("change")
        pk = self.object_pk(object_id)
        data = self.read(pk, edit=True)
        form = self.form(pk, data, request.POST)
        if form.is_valid() and form.save() is not None:
            label = self.label(pk, {**data["values"], **form.cleaned_data})
            history.log_change(request, self.model_admin, pk, label, form.changed_data)
            messages.success(
                request,
                f"The {self.opts.verbose_name} “{label}” was changed successfully.",
                fail_silently=True,
            )
            return saved_redirect(self, request, pk)
        return self.page(pk, data, form)

    def page(self, pk: str, data: dict[str, Any], form: Any) -> HttpResponse:
        label = self.label(pk, data["values"])
        can_change = form is not None
        single_rows = [row for row in data["fields"] if row["single"]]
        multi_rows = [row for row in data["fields"] if not row["single"]]
        for row in data["fields"]:
            row["bound"] = form[row["name"]] if can_change and row["name"] in form.fields else None
            if can_change and row["bound"] is None and not row["single"]:
                row["why_not_editable"] = data["not_editable"].get(row["name"], "read-only")
        return self.render(
            "django_limpyd/change_form.html",
            title=f"Change {self.opts.verbose_name}"
            if can_change
            else f"View {self.opts.verbose_name}",
            subtitle=label,
            **self.model_context(
                pk=pk,
                original=label,
                add=False,
                form=form,
                errors=bool(form is not None and form.errors),
                single_rows=single_rows,
                multi_rows=multi_rows,
                media=form.media if form is not None else None,
                delete_url=self.url("delete", pk),
                history_url=self.url("history", pk),
            ),
        )


class AddView(InstanceMixin):
    """``.../add/``: a new instance from its single-value fields."""

    def get(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("add")
        return self.page(self.form())

    def form(self, post: Any = None) -> Any:
        """The add form (with the related fields' choices: one round trip if any)."""
        pipe = self.opts.database.connection.pipeline(transaction=False)
        read = self.queue_related(pipe)
        related = read(iter(pipe.execute())) if len(pipe) else {}
        return redis_form_factory(self.model_admin, adding=True)(post, related=related)

    def post(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("add")
        form = self.form(request.POST)
        if form.is_valid():
            instance = form.save()
            if instance is not None:
                pk = instance.pk.get()
                label = self.label(pk, form.cleaned_data)
                history.log_addition(request, self.model_admin, pk, label)
                messages.success(
                    request,
                    f"The {self.opts.verbose_name} “{label}” was added successfully.",
                    fail_silently=True,
                )
                return saved_redirect(self, request, pk)
        return self.page(form)

    def page(self, form: Any) -> HttpResponse:
        return self.render(
            "django_limpyd/change_form.html",
            title=f"Add {self.opts.verbose_name}",
            **self.model_context(
                add=True,
                form=form,
                media=form.media,
                errors=bool(form.errors),
                single_rows=[
                    {"name": name, "label": form[name].label, "bound": form[name]}
                    for name in form.fields
                ],
                multi_rows=[],
            ),
        )


def saved_redirect(view: ModelView, request: HttpRequest, pk: str) -> HttpResponse:
    """Where a saved form goes: the list, the instance again, or a new form."""
    if "_continue" in request.POST:
        return HttpResponseRedirect(view.url("change", pk))
    if "_addanother" in request.POST:
        return HttpResponseRedirect(view.url("add"))
    return HttpResponseRedirect(view.url("changelist"))


class DeleteView(InstanceMixin):
    """``.../<pk>/delete/``: a confirmation listing the keys that go; its POST deletes."""

    def _instance(self, app_label: str, model_name: str, object_id: str) -> tuple[str, Any]:
        """The pk and the description of the instance to delete (404 if none)."""
        self.setup_model(app_label, model_name)
        self.require("delete")
        pk = self.object_pk(object_id)
        described = describe_instances(self.site, self.model_admin, [pk])
        if not described:
            raise Http404(f"No {self.opts.verbose_name} with pk {pk!r}.")
        return pk, described[0]

    def get(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        pk, instance = self._instance(app_label, model_name, object_id)
        return self.render(
            "django_limpyd/delete_confirmation.html",
            title="Are you sure?",
            **self.model_context(
                pk=pk, original=instance["label"], instance=instance, instances=[instance]
            ),
        )

    def post(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        pk, instance = self._instance(app_label, model_name, object_id)
        if not self.model.lazy_connect(pk).delete():
            raise Http404(f"No {self.opts.verbose_name} with pk {pk!r}.")
        history.log_deletion(request, self.model_admin, pk, instance["label"])
        messages.success(
            request,
            f"The {self.opts.verbose_name} “{instance['label']}” was deleted successfully.",
            fail_silently=True,
        )
        return HttpResponseRedirect(self.url("changelist"))


class InstanceRedirectView(ModelView):
    """``.../<pk>/``: to the change page (as Django's admin)."""

    def get(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        pk = self.object_pk(object_id)
        if not self.model.exists(pk):
            raise Http404(f"No {self.opts.verbose_name} with pk {pk!r}.")
        return HttpResponseRedirect(self.url("change", pk))
