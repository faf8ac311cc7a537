"""The package: its exported names, the extra it needs, and that nothing else imports
Django REST framework."""

import configparser
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from django_limpyd.contrib import drf

ROOT = Path(__file__).resolve().parents[3]


def test_public_names():
    assert set(drf.__all__) == {
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
    }
    for name in drf.__all__:
        assert getattr(drf, name) is not None


def test_import_without_drf_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name.startswith("django_limpyd.contrib.drf"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rest_framework", None)  # "not installed"
    with pytest.raises(ImportError, match=r"install the `drf` extra.*django-limpyd\[drf\]"):
        importlib.import_module("django_limpyd.contrib.drf")


def test_django_limpyd_never_imports_rest_framework():
    code = (
        "import os, sys, django\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'\n"
        "django.setup()\n"
        "import django_limpyd.admin, django_limpyd.contrib.related, django_limpyd.test\n"
        "import django_limpyd.contrib.collection, django_limpyd.urls\n"
        "print(sorted(m for m in sys.modules if m.startswith('rest_framework')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_setup_cfg_extras():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = config["options.extras_require"]
    assert extras["drf"].split() == ["djangorestframework>=3.15"]
    assert "djangorestframework>=3.15" in extras["dev"].split()
