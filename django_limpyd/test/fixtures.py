"""``limpyd_fixtures`` of the test cases: JSON files of ``limpyd_dump``, found like
Django's fixtures and loaded into the (flushed) test databases."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from django_limpyd.management.dumpload import LoadError, load_objects, parse_objects

__all__ = ["find_fixture", "load_fixtures"]


def fixture_dirs() -> list[str]:
    """Each installed app's ``fixtures/`` directory, then ``FIXTURE_DIRS``."""
    found = [os.path.join(config.path, "fixtures") for config in apps.get_app_configs()]
    return [path for path in found if os.path.isdir(path)] + [
        str(path) for path in getattr(settings, "FIXTURE_DIRS", ())
    ]


def find_fixture(name: str, where: str) -> str:
    """The path of fixture ``name`` (``.json`` added if missing), or ``ImproperlyConfigured``."""
    if not name.endswith(".json"):
        name += ".json"
    if os.path.isabs(name):
        if os.path.isfile(name):
            return name
        raise ImproperlyConfigured(f"{where}.limpyd_fixtures: no file {name!r}.")
    dirs = fixture_dirs()
    found = [os.path.join(d, name) for d in dirs if os.path.isfile(os.path.join(d, name))]
    if not found:
        raise ImproperlyConfigured(
            f"{where}.limpyd_fixtures: fixture {name!r} not found in {', '.join(dirs) or 'no'} "
            "fixture directories (apps' fixtures/ and FIXTURE_DIRS)."
        )
    if len(set(found)) > 1:
        raise ImproperlyConfigured(
            f"{where}.limpyd_fixtures: fixture {name!r} is in several places: {found}."
        )
    return found[0]


def load_fixtures(names: Iterable[str], where: str) -> None:
    """Load the fixtures ``names`` (of the test case ``where``)."""
    if isinstance(names, str):
        raise ImproperlyConfigured(f"{where}.limpyd_fixtures must be a list, not a string.")
    parsed = []
    for name in names:
        path = find_fixture(name, where)
        try:
            with open(path, encoding="utf-8") as stream:
                parsed += parse_objects(json.load(stream))
        except (ValueError, LoadError) as exc:
            raise ImproperlyConfigured(f"{where}.limpyd_fixtures: {path}: {exc}") from exc
    load_objects(parsed, 1000)
