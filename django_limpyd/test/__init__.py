"""Test helpers for projects using django_limpyd (and for django_limpyd itself).

``TestCase``, ``TransactionTestCase``, ``SimpleTestCase`` and ``LimpydTestMixin``
(:mod:`django_limpyd.test.testcases`), the runner
``django_limpyd.test.runner.DiscoverRunner``, the pytest plugin
``django_limpyd.test.pytest_plugin``; see docs/django/testing.rst.

The names are imported on first use, so that importing this package (the
pytest plugin does, before Django is set up) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DatabaseAccessBlocked",
    "LimpydTestMixin",
    "SimpleTestCase",
    "TestCase",
    "TransactionTestCase",
    "assert_num_commands",
    "count_commands",
]

_MODULES = {
    "DatabaseAccessBlocked": "django_limpyd.test.isolation",
    "LimpydTestMixin": "django_limpyd.test.testcases",
    "SimpleTestCase": "django_limpyd.test.testcases",
    "TestCase": "django_limpyd.test.testcases",
    "TransactionTestCase": "django_limpyd.test.testcases",
    "assert_num_commands": "django_limpyd.test.commands",
    "count_commands": "django_limpyd.test.commands",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
