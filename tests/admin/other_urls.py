"""A URLconf with a second Redis site of its own."""

from django.contrib import admin as django_admin
from django.urls import include, path

from django_limpyd.admin import RedisAdminSite

other_site = RedisAdminSite(name="other_redis")

urlpatterns = [
    path("redis/", other_site.urls),
    path("admin/redis/", include("django_limpyd.urls")),
    path("admin/", django_admin.site.urls),
]
