"""The public import paths of ORM.md, with their exported names."""

import importlib

import pytest

PUBLIC = {
    "django_limpyd.aio": {"AsyncLimpydRedis", "aclose_clients", "get_client"},
    "django_limpyd.database": {"RedisDatabase", "DEFAULT_CONNECTION_SETTINGS"},
    "django_limpyd.model": {
        "RedisModel",
        "RedisDatabase",
        "StringField",
        "HashField",
        "InstanceHashField",
        "SetField",
        "ListField",
        "SortedSetField",
        "PKField",
        "AutoPKField",
    },
    "django_limpyd.fields": {
        "StringField",
        "HashField",
        "InstanceHashField",
        "SetField",
        "ListField",
        "SortedSetField",
        "PKField",
        "AutoPKField",
        "RedisField",
        "SingleValueField",
        "MultiValuesField",
    },
    "django_limpyd.forms": {"RedisModelForm", "redis_modelform_factory", "formfield_for"},
    "django_limpyd.indexes": {"BaseIndex", "EqualIndex", "TextRangeIndex", "NumberRangeIndex"},
    "django_limpyd.exceptions": {
        "LimpydException",
        "UniquenessError",
        "DoesNotExist",
        "ImplementationError",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_exported(module_name):
    module = importlib.import_module(module_name)
    assert PUBLIC[module_name] <= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_package_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, django_limpyd; "
        "print(sorted(m for m in sys.modules if m.startswith(('redis', 'django_limpyd.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
