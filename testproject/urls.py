"""URLs of the demo project: the demo home page and the Django admin."""

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
