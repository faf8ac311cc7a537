"""Django REST framework for Redis models: ``django_limpyd.contrib.drf``.

An optional extra (``pip install django-limpyd[drf]``): serializers, viewsets,
filter backends and paginators working on collections, see
``docs/contrib/drf.rst``. Importing ``django_limpyd`` never imports Django REST
framework; importing this package without it raises an ``ImportError`` saying
which extra to install.
"""

try:
    import rest_framework  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "django_limpyd.contrib.drf needs Django REST framework: install the `drf` extra "
        "(pip install 'django-limpyd[drf]')."
    ) from exc

from django_limpyd.contrib.drf.fields import (
    RedisHashField,
    RedisListField,
    RedisManyRelatedField,
    RedisNumberField,
    RedisPrimaryKeyRelatedField,
    RedisScoredRelatedField,
    RedisSetField,
    RedisSortedSetField,
)
from django_limpyd.contrib.drf.filters import RedisFilterBackend, RedisOrderingFilter
from django_limpyd.contrib.drf.pagination import RedisCursorPagination, RedisPageNumberPagination
from django_limpyd.contrib.drf.reading import Row, RowReader
from django_limpyd.contrib.drf.serializers import RedisListSerializer, RedisModelSerializer
from django_limpyd.contrib.drf.validators import RedisUniqueValidator
from django_limpyd.contrib.drf.viewsets import (
    RedisGenericAPIView,
    RedisGenericViewSet,
    RedisModelViewSet,
    RedisReadOnlyModelViewSet,
)

__all__ = [
    "RedisCursorPagination",
    "RedisFilterBackend",
    "RedisGenericAPIView",
    "RedisGenericViewSet",
    "RedisHashField",
    "RedisListField",
    "RedisListSerializer",
    "RedisManyRelatedField",
    "RedisModelSerializer",
    "RedisModelViewSet",
    "RedisNumberField",
    "RedisOrderingFilter",
    "RedisPageNumberPagination",
    "RedisPrimaryKeyRelatedField",
    "RedisReadOnlyModelViewSet",
    "RedisScoredRelatedField",
    "RedisSetField",
    "RedisSortedSetField",
    "RedisUniqueValidator",
    "Row",
    "RowReader",
]
