"""Template tags of the admin-like pages: ``{% load limpyd_admin %}``.

``{% limpyd_app_list as redis_apps %}`` gives the Redis apps and models (no
Redis command is sent) to a template of the Django admin, e.g. its index (see
``django_limpyd/admin/index.html``): an empty list when the user may not see
them or the pages' URLs are not included. ``{% limpyd_log_entry entry as redis %}``
gives the URL and model name of an admin log entry of a Redis instance (its
"Recent actions" link), ``None`` for the other entries.
"""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def limpyd_app_list(context: Any, site: Any = None) -> list[dict[str, Any]]:
    """The Redis apps of ``site`` (default: ``django_limpyd.admin.site``) for this user."""
    from django_limpyd.admin import site as default_site

    site = site or default_site
    request = context.get("request")
    if request is None or not site.has_permission(request) or site.reverse("index") is None:
        return []
    return site.app_list(request)


@register.simple_tag
def limpyd_index_url(site: Any = None) -> str | None:
    """The URL of the index of the Redis pages (``None`` if not included)."""
    from django_limpyd.admin import site as default_site

    return (site or default_site).reverse("index")


@register.simple_tag
def limpyd_log_entry(entry: Any, site: Any = None) -> dict[str, Any] | None:
    """``{"url", "model"}`` of a log entry written for a Redis instance (``url`` is
    ``None`` for a deletion or an unknown model), else ``None``."""
    from django_limpyd.admin import history
    from django_limpyd.admin import site as default_site

    parsed = history.parse(getattr(entry, "object_id", None))
    if parsed is None or entry.content_type_id is not None:
        return None
    app_label, model_name, pk = parsed
    site = site or default_site
    try:
        model = site.get_model(app_label, model_name)
    except LookupError:
        return {"url": None, "model": f"{model_name} (Redis)"}
    from django.contrib.admin.utils import quote

    url = None if entry.is_deletion() else site.reverse("change", app_label, model_name, quote(pk))
    return {"url": url, "model": f"{model._meta.verbose_name} (Redis)"}
