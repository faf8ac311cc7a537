"""``RedisAdminSite``: the registry of :class:`RedisModelAdmin` and the pages' URLs.

``site`` is the default site, served by ``include("django_limpyd.urls")``.
Every Redis model of the registry (:mod:`django_limpyd.registry`) has pages;
registering a model only changes its options::

    from django_limpyd import admin
    admin.site.register(Person, PersonAdmin)     # or @admin.register(Person)

Permissions: viewing needs an active ``is_staff`` user (others are sent to the
admin's login page); changing needs ``is_superuser``, unless the setting
``LIMPYD_ADMIN_PERMISSION`` names another check, a callable
``(request) -> bool`` given by its dotted path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import autodiscover_modules, import_string

from django_limpyd import registry
from django_limpyd.admin.options import RedisModelAdmin
from django_limpyd.conf import get_setting
from django_limpyd.exceptions import ImplementationError

__all__ = ["AlreadyRegistered", "NotRegistered", "RedisAdminSite", "register", "site"]

#: the URL namespace of the pages (``include("django_limpyd.urls")``)
APP_NAME = "django_limpyd"


class AlreadyRegistered(ImplementationError):
    """The model already has an admin on this site."""


class NotRegistered(ImplementationError):
    """The model has no admin of its own on this site."""


class RedisAdminSite:
    """Pages for the Redis models of the registry, made from Django's admin site.

    ``name`` is the URL instance namespace; ``admin_site`` the Django
    ``AdminSite`` whose header, sidebar and login the pages share (default:
    ``django.contrib.admin.site``).
    """

    #: title of the index page
    index_title = "Redis"
    #: the budget of a page of the key browser: at most this many SCAN calls...
    key_browser_max_scans = 20
    #: ... each with a COUNT hint of at most this (how long one call may block Redis)
    key_browser_max_scan_count = 5000

    def __init__(self, name: str = APP_NAME, admin_site: Any = None) -> None:
        self.name = name
        self._admin_site = admin_site
        self._registry: dict[type, RedisModelAdmin] = {}
        self._defaults: dict[type, RedisModelAdmin] = {}
        self._discovered = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

    # -- registration ---------------------------------------------------------------

    def register(
        self, model_or_iterable: type | Iterable[type], admin_class: type | None = None
    ) -> None:
        """Give the model(s) an admin of ``admin_class`` (default ``RedisModelAdmin``)."""
        admin_class = admin_class or RedisModelAdmin
        if not (isinstance(admin_class, type) and issubclass(admin_class, RedisModelAdmin)):
            raise ImplementationError(f"{admin_class!r} is not a RedisModelAdmin subclass.")
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            meta = getattr(model, "_meta", None)
            if meta is None or meta.abstract:
                raise ImplementationError(f"{model!r} is not a concrete Redis model.")
            with self._lock:
                if model in self._registry:
                    raise AlreadyRegistered(f"The Redis model {meta.label} is already registered.")
                self._registry[model] = admin_class(model, self)
                self._defaults.pop(model, None)

    def unregister(self, model_or_iterable: type | Iterable[type]) -> None:
        """Forget the admin of the model(s) (their pages use the defaults again)."""
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            with self._lock:
                if model not in self._registry:
                    raise NotRegistered(f"The Redis model {model._meta.label} is not registered.")
                del self._registry[model]

    def is_registered(self, model: type) -> bool:
        """Whether ``model`` has an admin of its own."""
        return model in self._registry

    def get_model_admin(self, model: type) -> RedisModelAdmin:
        """The model's admin: the registered one, else a default ``RedisModelAdmin``."""
        admin = self._registry.get(model)
        if admin is None:
            with self._lock:
                admin = self._defaults.get(model)
                if admin is None:
                    admin = self._defaults[model] = RedisModelAdmin(model, self)
        return admin

    def autodiscover(self) -> None:
        """Import the ``admin`` module of every installed app (once), where models may
        be registered (Django's admin does it too when installed)."""
        if not self._discovered:
            autodiscover_modules("admin")
            self._discovered = True

    def get_models(self, app_label: str | None = None) -> list[type]:
        """The models with pages: every model of the registry (of one app)."""
        self.autodiscover()
        return registry.get_models(app_label)

    def get_model(self, app_label: str, model_name: str) -> type:
        """The model with pages ``app_label.model_name`` (``LookupError`` if none)."""
        model = registry.get_model(app_label, model_name)
        if model._meta.model_name != model_name:
            raise LookupError(f"Use the lowercase model name {model._meta.model_name!r}.")
        return model

    # -- permissions ----------------------------------------------------------------

    def has_permission(self, request: HttpRequest) -> bool:
        """May the user see the pages: an active staff member (as Django's admin)."""
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_active and user.is_staff)

    def has_change_permission(self, request: HttpRequest) -> bool:
        """May the user change data: ``LIMPYD_ADMIN_PERMISSION(request)`` if set, else
        ``is_superuser`` (always on top of :meth:`has_permission`)."""
        if not self.has_permission(request):
            return False
        check = get_setting("LIMPYD_ADMIN_PERMISSION")
        if check is None:
            return bool(request.user.is_superuser)
        if isinstance(check, str):
            try:
                check = import_string(check)
            except ImportError as exc:
                raise ImplementationError(f"LIMPYD_ADMIN_PERMISSION: {exc}") from None
        if not callable(check):
            raise ImplementationError(
                f"LIMPYD_ADMIN_PERMISSION must be the dotted path of a callable, got {check!r}."
            )
        return bool(check(request))

    # -- what every page gets -------------------------------------------------------

    @property
    def admin_site(self) -> Any:
        """The Django admin site the pages are part of."""
        if self._admin_site is None:
            from django.contrib import admin

            return admin.site
        return self._admin_site

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        """The Django admin's context for every page, with the Redis apps added to the
        navigation sidebar."""
        context = self.admin_site.each_context(request)
        context["available_apps"] = list(context.get("available_apps", [])) + self.app_list(request)
        context["limpyd_site"] = self
        return context

    def app_list(self, request: HttpRequest | None = None) -> list[dict[str, Any]]:
        """The Redis apps and their models, shaped like the Django admin's app list (no
        Redis command is sent)."""
        from django.apps import apps

        grouped: dict[str, list[type]] = {}
        for model in self.get_models():
            grouped.setdefault(model._meta.app_label, []).append(model)
        result = []
        for app_label, models in sorted(grouped.items()):
            try:
                app_name = apps.get_app_config(app_label).verbose_name
            except LookupError:
                app_name = app_label
            entries = []
            for model in sorted(models, key=lambda m: m._meta.verbose_name_plural.lower()):
                meta = model._meta
                admin = self.get_model_admin(model)
                can_add = request is not None and admin.has_add_permission(request)
                entries.append(
                    {
                        "model": model,
                        "name": meta.verbose_name_plural.capitalize(),
                        "object_name": meta.object_name,
                        "admin_url": self.reverse("changelist", app_label, meta.model_name),
                        "add_url": (
                            self.reverse("add", app_label, meta.model_name) if can_add else None
                        ),
                        "view_only": request is not None
                        and not admin.has_change_permission(request),
                        "perms": {},
                    }
                )
            result.append(
                {
                    "name": f"{app_name} (Redis)",
                    "app_label": app_label,
                    "app_url": self.reverse("app_index", app_label),
                    "has_module_perms": True,
                    "models": entries,
                }
            )
        return result

    # -- URLs -----------------------------------------------------------------------

    def reverse(self, name: str, *args: Any) -> str | None:
        """The URL of page ``name`` of this site (``None`` if its URLs are not included)."""
        try:
            return reverse(f"{APP_NAME}:{name}", args=args, current_app=self.name)
        except NoReverseMatch:
            return None

    def get_urls(self) -> list[Any]:
        """The URL patterns of the pages."""
        from django.urls import path

        from django_limpyd.admin import views

        def view(view_class: type) -> Callable[..., Any]:
            return view_class.as_view(site=self)

        return [
            path("", view(views.IndexView), name="index"),
            path("-/keys/<str:alias>/", view(views.KeyBrowserView), name="keys"),
            path("<str:app_label>/", view(views.IndexView), name="app_index"),
            path(
                "<str:app_label>/<str:model_name>/", view(views.ChangeListView), name="changelist"
            ),
            path("<str:app_label>/<str:model_name>/add/", view(views.AddView), name="add"),
            path(
                "<str:app_label>/<str:model_name>/<path:object_id>/change/",
                view(views.ChangeView),
                name="change",
            ),
            path(
                "<str:app_label>/<str:model_name>/<path:object_id>/delete/",
                view(views.DeleteView),
                name="delete",
            ),
            path(
                "<str:app_label>/<str:model_name>/<path:object_id>/history/",
                view(views.HistoryView),
                name="history",
            ),
            path(
                "<str:app_label>/<str:model_name>/<path:object_id>/",
                view(views.InstanceRedirectView),
                name="instance",
            ),
        ]

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        """``path("redis/", site.urls)``: the patterns, app and instance namespace."""
        return self.get_urls(), APP_NAME, self.name


#: The default site (``include("django_limpyd.urls")``).
site = RedisAdminSite()


def register(
    *models: type, admin_class: type | None = None, site: RedisAdminSite | None = None
) -> Any:
    """``register(Model, AdminClass)`` on the default site, or as a decorator::

    @register(Person)
    class PersonAdmin(RedisModelAdmin): ...
    """
    target = site or globals()["site"]
    if len(models) == 2 and isinstance(models[1], type) and issubclass(models[1], RedisModelAdmin):
        target.register(models[0], models[1])
        return models[1]
    if admin_class is not None:
        target.register(models, admin_class)
        return admin_class

    def decorate(cls: type) -> type:
        target.register(models, cls)
        return cls

    return decorate
