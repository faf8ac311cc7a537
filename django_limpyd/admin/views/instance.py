"""The pages of one instance: change (or view), add, delete.

The change page reads everything it shows in one round trip: existence, the
single-value fields (one ``HMGET`` for those of the instance hash, a ``GET``
each for strings), and for every other field its TTL, size and first members
through the reader of its Redis type. Single-value fields are edited through a
Django form (:mod:`django_limpyd.admin.forms`); related fields link to the
instance they point to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import quote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from django_limpyd.admin.forms import redis_form_factory
from django_limpyd.admin.options import SINGLE_VALUE_TYPES
from django_limpyd.admin.readers import READERS
from django_limpyd.admin.views.base import ModelView, describe_instances, related_model

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

    def read(self, pk: str) -> dict[str, Any]:
        """Everything the change page shows of instance ``pk``; 404 if it does not exist."""
        meta = self.opts
        instance = self.model.lazy_connect(pk)
        limit = self.model_admin.multi_value_preview
        pipe = meta.database.connection.pipeline(transaction=False)
        pipe.zscore(meta.keys.pks, pk)
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
        return {"values": values, "fields": fields}

    def _instance_url(self, model: type, pk: str) -> str | None:
        return self.site.reverse("change", model._meta.app_label, model._meta.model_name, quote(pk))

    def label(self, pk: str, values: dict[str, Any]) -> str:
        """How the instance is named."""
        return self.model_admin.object_label(pk, values)


class ChangeView(InstanceMixin):
    """``.../<pk>/change/``: every field; the single-value ones editable."""

    def get(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        pk = self.object_pk(object_id)
        data = self.read(pk)
        form = None
        if self.model_admin.has_change_permission(request):
            form = redis_form_factory(self.model_admin, adding=False)(pk=pk, values=data["values"])
        return self.page(pk, data, form)

    def post(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("change")
        pk = self.object_pk(object_id)
        data = self.read(pk)
        form_class = redis_form_factory(self.model_admin, adding=False)
        form = form_class(request.POST, pk=pk, values=data["values"])
        if form.is_valid() and form.save() is not None:
            label = self.label(pk, {**data["values"], **form.cleaned_data})
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
        for row in single_rows:
            row["bound"] = form[row["name"]] if can_change and row["name"] in form.fields else None
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
                multi_rows=[row for row in data["fields"] if not row["single"]],
                delete_url=self.url("delete", pk),
            ),
        )


class AddView(InstanceMixin):
    """``.../add/``: a new instance from its single-value fields."""

    def get(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("add")
        return self.page(redis_form_factory(self.model_admin, adding=True)())

    def post(self, request: HttpRequest, app_label: str, model_name: str) -> HttpResponse:
        self.setup_model(app_label, model_name)
        self.require("add")
        form = redis_form_factory(self.model_admin, adding=True)(request.POST)
        if form.is_valid():
            instance = form.save()
            if instance is not None:
                pk = instance.pk.get()
                label = self.label(pk, form.cleaned_data)
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
