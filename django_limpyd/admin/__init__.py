"""Admin-like pages for Redis models: ``django_limpyd.admin``.

``path("admin/redis/", include("django_limpyd.urls"))`` serves them; register a
:class:`RedisModelAdmin` to change a model's options (every model has pages
with the defaults). See ``docs/django/admin.rst``.
"""

from django_limpyd.admin.options import RedisModelAdmin, display
from django_limpyd.admin.sites import (
    AlreadyRegistered,
    NotRegistered,
    RedisAdminSite,
    register,
    site,
)

__all__ = [
    "AlreadyRegistered",
    "NotRegistered",
    "RedisAdminSite",
    "RedisModelAdmin",
    "display",
    "register",
    "site",
]
