"""What every page shares: permissions, the admin's context, the model and the
instance of the URL.

Every page needs an active staff user (others go to the admin's login page);
pages that change data check the model admin's change/add/delete permission
and answer 403 without it. Mutations are POST only, CSRF-protected even where
the project has no ``CsrfViewMiddleware``. An unknown model or pk is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from django_limpyd.exceptions import InvalidValue, LimpydException
from django_limpyd.storage.state import queue_read

if TYPE_CHECKING:
    from django_limpyd.admin.options import RedisModelAdmin
    from django_limpyd.admin.sites import RedisAdminSite

__all__ = ["ModelView", "RedisAdminView", "describe_instances", "related_model"]


class RedisAdminView(View):
    """Base of the pages: login and staff required, the admin's context."""

    #: the site (given to ``as_view``)
    site: RedisAdminSite = None  # type: ignore[assignment]

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.current_app = self.site.name
        if not self.site.has_permission(request):
            return self.redirect_to_login(request)
        return super().dispatch(request, *args, **kwargs)

    def redirect_to_login(self, request: HttpRequest) -> HttpResponse:
        """To the Django admin's login page (``LOGIN_URL`` without the admin)."""
        try:
            login_url = reverse("admin:login", current_app=self.site.admin_site.name)
        except NoReverseMatch:
            login_url = None
        return redirect_to_login(request.get_full_path(), login_url)

    def context(self, **extra: Any) -> dict[str, Any]:
        """The admin's context for every page, and ``extra``."""
        context = self.site.each_context(self.request)
        context.update(extra)
        return context

    def render(self, template: str, status: int = 200, **extra: Any) -> HttpResponse:
        """The page ``template`` with the admin's context and ``extra``."""
        return render(self.request, template, self.context(**extra), status=status)


class ModelView(RedisAdminView):
    """A page of one model (``<app_label>/<model_name>/...``)."""

    model: type
    model_admin: RedisModelAdmin

    def setup_model(self, app_label: str, model_name: str) -> None:
        """Find the model of the URL (404 if unknown) and check the view permission."""
        self.site.autodiscover()
        try:
            self.model = self.site.get_model(app_label, model_name)
        except LookupError:
            raise Http404(f"No Redis model {app_label}.{model_name}.") from None
        self.opts = self.model._meta
        self.model_admin = self.site.get_model_admin(self.model)
        if not self.model_admin.has_view_permission(self.request):
            raise PermissionDenied

    def require(self, permission: str) -> None:
        """403 unless the user has ``permission`` (``change``, ``add`` or ``delete``)."""
        check = getattr(self.model_admin, f"has_{permission}_permission")
        if not check(self.request):
            raise PermissionDenied

    def object_pk(self, object_id: str) -> str:
        """The pk quoted in the URL (404 if it cannot be a pk)."""
        try:
            return self.opts.pk_field.normalize(unquote(object_id))
        except InvalidValue:
            raise Http404("Not a pk.") from None

    def url(self, name: str, pk: str | None = None) -> str | None:
        """The URL of page ``name`` of this model (of instance ``pk``)."""
        args = [self.opts.app_label, self.opts.model_name]
        if pk is not None:
            args.append(quote(pk))
        return self.site.reverse(name, *args)

    def model_context(self, **extra: Any) -> dict[str, Any]:
        """What every page of a model shows."""
        request = self.request
        return {
            "opts": self.opts,
            "model_admin": self.model_admin,
            "app_name": _app_name(self.opts.app_label),
            "app_url": self.site.reverse("app_index", self.opts.app_label),
            "changelist_url": self.url("changelist"),
            "add_url": self.url("add"),
            "has_change_permission": self.model_admin.has_change_permission(request),
            "has_add_permission": self.model_admin.has_add_permission(request),
            "has_delete_permission": self.model_admin.has_delete_permission(request),
            **extra,
        }


def _app_name(app_label: str) -> str:
    from django.apps import apps

    try:
        return str(apps.get_app_config(app_label).verbose_name)
    except LookupError:
        return app_label


def related_model(model_field: Any) -> type | None:
    """The model a related field points to (``related_model``, as the fields of
    ``django_limpyd.contrib.related`` give it, or a ``to``/``related_to``/``target``
    attribute: a model or an ``"app_label.Model"`` label), else ``None``."""
    from django_limpyd import registry

    for attr in ("related_model", "to", "related_to", "target"):
        try:
            target = getattr(model_field, attr, None)
        except LimpydException:  # a target that cannot be resolved: no link
            continue
        if isinstance(target, str):
            label = target if "." in target else f"{model_field.model._meta.app_label}.{target}"
            try:
                return registry.get_model(label)
            except LookupError:
                continue
        if isinstance(target, type) and hasattr(target, "_meta"):
            return target
    return None


def describe_instances(
    site: RedisAdminSite, model_admin: RedisModelAdmin, pks: list[str]
) -> list[dict[str, Any]]:
    """``pk``, ``label``, ``url`` and existing ``keys`` of each instance that exists, in
    one round trip: what a deletion removes (with the index entries)."""
    model = model_admin.model
    meta = model._meta
    label_name = model_admin.get_label_field()
    label_field = meta.get_field(label_name) if label_name != "pk" else None
    pipe = meta.database.connection.pipeline(transaction=False)
    candidates: dict[str, list[str]] = {}
    for pk in pks:
        instance = model.lazy_connect(pk)
        keys = list(dict.fromkeys(instance.get_field(field.name).key for field in meta.data_fields))
        candidates[pk] = keys
        pipe.zscore(meta.keys_for(pk).pks, pk)
        for key in keys:
            pipe.exists(key)
        if label_field is not None:
            queue_read(pipe, label_field, pk)
    replies = iter(pipe.execute())
    result = []
    for pk, keys in candidates.items():
        exists = next(replies) is not None
        found = [key for key in keys if next(replies)]
        label_value = next(replies) if label_field is not None else None
        if not exists:
            continue
        result.append(
            {
                "pk": pk,
                "label": model_admin.object_label(pk, {label_name: label_value}),
                "url": site.reverse("change", meta.app_label, meta.model_name, quote(pk)),
                "keys": found,
            }
        )
    return result
