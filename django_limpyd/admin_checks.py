"""System check ``limpyd.E009``: the options of every registered ``RedisModelAdmin``.

As with Django's ``ModelAdmin``, registering an admin with a wrong option (a
``list_display`` naming nothing, a ``list_filter`` on a field without index...)
does not raise when the ``admin`` module is imported, which would stop
``runserver`` with a traceback: ``manage.py check`` (and ``runserver``, which runs
the checks) reports it, naming the admin class, the option and the model.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

from django_limpyd.exceptions import ImplementationError

__all__ = ["check_admins", "check_site"]


def check_site(site: Any) -> list[checks.CheckMessage]:
    """The E009 errors of the admins registered on ``site`` (a ``RedisAdminSite``)."""
    errors: list[checks.CheckMessage] = []
    for model, model_admin in list(site._registry.items()):
        try:
            model_admin._check()
        except ImplementationError as error:
            errors.append(
                checks.Error(
                    f"The admin of {model._meta.label} on the site {site.name!r}: {error}",
                    hint="Fix the option of the RedisModelAdmin (see the admin docs).",
                    obj=type(model_admin),
                    id="limpyd.E009",
                )
            )
    return errors


@checks.register("limpyd", checks.Tags.admin)
def check_admins(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E009 for the default site (``django_limpyd.admin.site``; a site of your own:
    :func:`check_site`). The apps' ``admin`` modules, where admins are registered,
    are imported at startup by ``django.contrib.admin``, which the pages need."""
    from django_limpyd.admin.sites import site

    return check_site(site)
