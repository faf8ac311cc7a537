"""The demo's REST API: its Redis models under ``/api/``, with Django REST framework.

``/api/persons/`` pages by number (``?page=2``, ``?page_size=5``), ``/api/pages/``
by cursor; both filter on their indexed fields (``?city=Paris``,
``?birth_year__gte=1980``, ``?tags__in=a,b``, ``?name__startswith=A``) and order
by one field (``?ordering=-birth_year``). The API is open to anyone, as the
demo's home page is: it is a local demo.
"""

from rest_framework import serializers
from rest_framework.routers import DefaultRouter

from django_limpyd.contrib.drf import (
    RedisCursorPagination,
    RedisModelSerializer,
    RedisModelViewSet,
    RedisPageNumberPagination,
)
from testproject.demo.redis_models import Page, Person


class PersonSerializer(RedisModelSerializer):
    """Every field of a person, and its URL."""

    url = serializers.HyperlinkedIdentityField(view_name="person-detail")

    class Meta:
        model = Person
        fields = ["url", "pk", "name", "city", "birth_year", "tags"]


class PageSerializer(RedisModelSerializer):
    """A page of the demo site and its visit counter."""

    url = serializers.HyperlinkedIdentityField(view_name="page-detail")

    class Meta:
        model = Page
        fields = ["url", "pk", "path", "visits"]


class PersonPagination(RedisPageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 100


class PagePagination(RedisCursorPagination):
    page_size = 10


class PersonViewSet(RedisModelViewSet):
    """Persons: list, create, retrieve, update, delete."""

    serializer_class = PersonSerializer
    pagination_class = PersonPagination
    ordering = "name"


class PageViewSet(RedisModelViewSet):
    """Pages and their visit counters."""

    serializer_class = PageSerializer
    pagination_class = PagePagination
    ordering = "path"


router = DefaultRouter()
router.register("persons", PersonViewSet, basename="person")
router.register("pages", PageViewSet, basename="page")
