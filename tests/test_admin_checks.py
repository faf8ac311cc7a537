"""System check ``limpyd.E009`` (issue 21): a wrong ``RedisModelAdmin`` option is
reported by ``manage.py check`` instead of raising when the admin module is imported."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_limpyd import admin
from django_limpyd.admin_checks import check_admins, check_site
from tests.apps.shop.redis_models import Foo, Person


@pytest.fixture
def registered():
    """Register admins on the default site for one test."""
    models = []

    def register(model, **options):
        admin.site.register(
            model, type(f"{model.__name__}Admin", (admin.RedisModelAdmin,), options)
        )
        models.append(model)

    yield register
    admin.site.unregister(models)


def test_a_bad_list_display_registers_and_is_reported_by_check(registered):
    registered(Person, list_display=("pk", "nmae"))  # no exception at import time
    registered(Foo, list_display=("pk", "value"))
    (error,) = check_admins()
    assert error.id == "limpyd.E009" and error.obj.__name__ == "PersonAdmin"
    assert error.msg == (
        "The admin of shop.Person on the site 'django_limpyd': PersonAdmin.list_display: "
        "'nmae' is neither a field of Person nor a method of the admin."
    )
    with pytest.raises(SystemCheckError, match=r"limpyd\.E009"):
        call_command("check")


def test_every_admin_of_a_site_of_ones_own_is_checked():
    site = admin.RedisAdminSite(name="other")
    bad = type("PersonAdmin", (admin.RedisModelAdmin,), {"list_filter": ("name", "nope")})
    site.register(Person, bad)
    site.register(Foo, type("FooAdmin", (admin.RedisModelAdmin,), {"ordering": "-nope"}))
    assert [error.obj.__name__ for error in check_site(site)] == ["PersonAdmin", "FooAdmin"]
    assert check_admins() == []  # the default site has none of them
