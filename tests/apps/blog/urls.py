from django.urls import path

from tests.apps.blog import views

urlpatterns = [
    path("", views.post_list, name="post_list"),
    path("new/", views.post_edit, name="post_create"),
    path("<str:pk>/", views.post_detail, name="post_detail"),
    path("<str:pk>/edit/", views.post_edit, name="post_update"),
]
