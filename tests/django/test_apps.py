"""Models in apps: autodiscovery, app labels and namespaces, registry, Django helpers."""

import pytest
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404

import django_limpyd
from django_limpyd import registry
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop


def test_redis_models_modules_are_autodiscovered():
    assert registry.get_model("shop.Person") is shop.Person
    assert registry.get_model("crm.person") is crm.Person
    assert registry.get_model("crm", "Contact") is crm.Contact
    assert set(registry.get_models("shop")) == {shop.Person, shop.Foo, shop.FooBar}
    assert {shop.Person, crm.Person, crm.Contact} <= set(registry.get_models())


@pytest.mark.parametrize("label", ["shop.Nope", "nope.Person", "shop", 12])
def test_unknown_model_errors_like_django(label):
    with pytest.raises(LookupError, match="not registered|must be 'app_label.ModelName'"):
        registry.get_model(label)


def test_app_label_is_the_namespace_unless_set():
    assert shop.Person._meta.app_label == "shop"
    assert shop.Person._meta.namespace == "shop"
    assert crm.Person._meta.namespace == "crm"
    assert crm.Contact._meta.namespace == "contacts"
    assert shop.Person._meta.keys.prefix != crm.Person._meta.keys.prefix


def test_two_apps_person_models_do_not_share_keys():
    ann = shop.Person(name="Ann", city="Paris")
    bob = crm.Person(email="bob@example.com")
    assert ann.pk.get() == bob.pk.get() == "1"
    assert shop.Person(1).name.hget() == "Ann"
    assert crm.Person(1).email.get() == "bob@example.com"
    assert set(shop.Person.scan_model_keys()).isdisjoint(crm.Person.scan_model_keys())


def test_default_and_aliased_databases():
    assert shop.Person._meta.database is django_limpyd.databases["default"]
    assert crm.Contact._meta.database is django_limpyd.databases["other"]
    crm.Contact(person="1")
    assert django_limpyd.databases["other"].connection.exists(crm.Contact._meta.keys.pks)
    assert not django_limpyd.databases["default"].connection.exists(crm.Contact._meta.keys.pks)


def test_meta_exposes_what_django_tools_need():
    meta = shop.Person._meta
    assert (meta.app_label, meta.model_name, meta.object_name) == ("shop", "person", "Person")
    assert (meta.label, meta.label_lower) == ("shop.Person", "shop.person")
    assert (meta.verbose_name, meta.verbose_name_plural) == ("person", "persons")
    assert [f.name for f in meta.get_fields()] == ["pk", "name", "city"]
    assert meta.get_field("city") is shop.Person.get_field("city")
    assert meta.pk is meta.get_field("pk")


def test_get_object_or_404_and_paginator():
    shop.Person(name="Ann")
    shop.Person(name="Bob")
    assert get_object_or_404(shop.Person, pk=1).name.hget() == "Ann"
    with pytest.raises(Http404):
        get_object_or_404(shop.Person, pk=3)
    assert get_object_or_404(shop.Person, name="Bob").pk.get() == "2"
    paginator = Paginator(shop.Person.collection().sort(), 1)
    assert (paginator.count, paginator.num_pages) == (2, 2)
    assert list(paginator.page(2)) == ["2"]
