"""The URLconf of the DRF tests."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from tests.contrib.drf import api

router = DefaultRouter()
router.register("authors", api.AuthorViewSet, basename="author")
router.register("books", api.BookViewSet, basename="book")
router.register("nested-books", api.NestedBookViewSet, basename="nested-book")
router.register("notes", api.NoteViewSet, basename="note")
router.register("cursor-notes", api.CursorNoteViewSet, basename="cursor-note")

urlpatterns = [path("api/", include(router.urls))]
