"""The admin tests run with ``tests.settings_admin`` (Django's admin, sessions,
messages, static files, the ``library`` app), applied for this package only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from django_limpyd import registry
from tests import settings_admin

PASSWORD = "secret-password"


@pytest.fixture(scope="package", autouse=True)
def admin_settings(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Django's admin and the ``library`` app installed; its models registered for the
    package only (the rest of the suite does not see them). The test database, made
    for ``tests.settings``, gets the admin's table (its index reads the log)."""
    with override_settings(**settings_admin.OVERRIDES):
        from tests.admin.library.redis_models import MODELS

        with django_db_blocker.unblock():
            call_command("migrate", "admin", verbosity=0, interactive=False)

        for model in MODELS:
            registry.register(model)  # again, after a previous package run
        try:
            yield
        finally:
            for model in MODELS:
                registry.unregister(model)


@pytest.fixture
def library() -> Any:
    """The ``library`` test app's models module."""
    from tests.admin.library import redis_models

    return redis_models


def make_user(django_user_model: Any, username: str, **flags: Any) -> Any:
    return django_user_model.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **flags
    )


@pytest.fixture
def superuser(db: Any, django_user_model: Any) -> Any:
    return make_user(django_user_model, "root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(db: Any, django_user_model: Any) -> Any:
    return make_user(django_user_model, "viewer", is_staff=True)


@pytest.fixture
def superuser_client(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def staff_client(staff: Any) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def books(library: Any) -> list[Any]:
    """Six books (five per page), with a value of every type."""
    Book, Author = library.Book, library.Author
    Author(pk="tolkien", name="J. R. R. Tolkien")
    Author(pk="a/b?c#d", name="Slashy")
    specs = [
        ("The Hobbit", "fantasy", "1937", "isbn-1", "tolkien"),
        ("Dune", "sf", "1965", "isbn-2", None),
        ("Emma", "classic", "1815", "isbn-3", None),
        ("Foundation", "sf", "1951", "isbn-4", None),
        ("Neuromancer", "sf", "1984", "isbn-5", None),
        ("Beloved", "classic", "1987", "isbn-6", "a/b?c#d"),
    ]
    result = []
    for title, genre, year, isbn, author in specs:
        values = {"title": title, "genre": genre, "year": year, "isbn": isbn}
        if author:
            values["author"] = author
        result.append(Book(**values))
    hobbit = result[0]
    hobbit.summary.set("There and back again.")
    hobbit.tags.sadd("classic", "dragons")
    hobbit.chapters.rpush("An Unexpected Party", "Roast Mutton")
    hobbit.ratings.zadd({"alice": 5, "bob": 3.5})
    hobbit.details.hset(mapping={"pages": "310", "cover": "green"})
    hobbit.coauthors.sadd("tolkien")
    return result
