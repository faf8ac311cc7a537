"""URLs of the demo project: the demo home page, the Django admin, and the REST API
under ``/api/`` when Django REST framework (the ``drf`` extra) is installed."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from testproject.demo import views

# the admin index links to the Redis pages (django_limpyd's admin index template)
admin.site.index_template = "django_limpyd/admin/index.html"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/redis/", include("django_limpyd.urls")),
    path("admin/", admin.site.urls),
]

if "rest_framework" in settings.INSTALLED_APPS:
    from testproject.demo.api import router

    urlpatterns.append(path("api/", include(router.urls)))
