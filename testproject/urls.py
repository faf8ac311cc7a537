"""URLs of the demo project: the demo home page and the Django admin."""

from django.contrib import admin
from django.urls import path

from testproject.demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]
