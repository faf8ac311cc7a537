"""The URLconf of the admin tests: Django's admin and the Redis pages under it."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/redis/", include("django_limpyd.urls")),
    path("admin/", admin.site.urls),
]
