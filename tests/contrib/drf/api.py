"""Serializers and viewsets of the DRF tests."""

from rest_framework import serializers

from django_limpyd.contrib.drf import (
    RedisCursorPagination,
    RedisModelSerializer,
    RedisModelViewSet,
    RedisPageNumberPagination,
    RedisReadOnlyModelViewSet,
)
from tests.contrib.drf.models import Author, Book, Note


class AuthorSerializer(RedisModelSerializer):
    class Meta:
        model = Author
        fields = "__all__"


class BookSerializer(RedisModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="book-detail")

    class Meta:
        model = Book
        fields = "__all__"


class NestedBookSerializer(RedisModelSerializer):
    author = AuthorSerializer(read_only=True)
    coauthors = AuthorSerializer(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["pk", "title", "author", "coauthors"]


class NoteSerializer(RedisModelSerializer):
    class Meta:
        model = Note
        fields = "__all__"


class Pages(RedisPageNumberPagination):
    page_size = 2
    page_size_query_param = "page_size"


class Cursor(RedisCursorPagination):
    page_size = 2


class AuthorViewSet(RedisModelViewSet):
    serializer_class = AuthorSerializer


class BookViewSet(RedisModelViewSet):
    serializer_class = BookSerializer
    pagination_class = Pages


class NestedBookViewSet(RedisReadOnlyModelViewSet):
    serializer_class = NestedBookSerializer
    pagination_class = None


class NoteViewSet(RedisModelViewSet):
    serializer_class = NoteSerializer
    pagination_class = Pages
    ordering = "pk"


class CursorNoteViewSet(RedisReadOnlyModelViewSet):
    serializer_class = NoteSerializer
    pagination_class = Cursor
    ordering_fields = ["rank", "text"]
    filterset_fields = {"rank": ["gte", "lte"], "text": ["eq", "in"]}
