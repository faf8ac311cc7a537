"""The admin pages of related fields to and from a sharded model: the related select
offers the instances of every shard (with their labels), a write to a missing target is
refused on its field, the links point to the targets."""

from __future__ import annotations

import re

import pytest

from django_limpyd import admin

MODULE = "tests.admin.library.redis_models"


@pytest.fixture
def related_models():
    """``library.Keeper`` (sharded, 3 shards) <- ``library.Cage`` (unsharded) and
    ``library.Animal`` (sharded) -> ``library.Keeper``, for one test."""
    from django_limpyd import fields, registry
    from django_limpyd.contrib import related

    keeper = type(
        "Keeper",
        (related.RelatedModel,),
        {"__module__": MODULE, "shards": 3, "name": fields.InstanceHashField(indexable=True)},
    )
    cage = type(
        "Cage",
        (related.RelatedModel,),
        {"__module__": MODULE, "keeper": related.FKInstanceHashField("Keeper")},
    )
    animal = type(
        "Animal",
        (related.RelatedModel,),
        {"__module__": MODULE, "shards": 2, "keeper": related.FKInstanceHashField("Keeper")},
    )
    yield keeper, cage, animal
    for model in (animal, cage, keeper):
        registry.unregister(model)


def test_related_selects_offer_every_shard_and_refuse_a_missing_target(
    superuser_client, related_models, monkeypatch
):
    Keeper, Cage, Animal = related_models
    keepers = [Keeper(name=f"k{number}") for number in range(5)]
    assert len({type(keeper) for keeper in keepers}) == 3
    pks = sorted((keeper.pk.get() for keeper in keepers), key=int)
    cage = Cage(keeper=keepers[0])
    animal = Animal(keeper=keepers[1])
    monkeypatch.setattr(admin.site.get_model_admin(Keeper), "label_field", "name")
    for url, current in (
        (f"/admin/redis/library/cage/{cage.pk.get()}/change/", keepers[0]),
        (f"/admin/redis/library/animal/{animal.pk.get()}/change/", keepers[1]),
    ):
        body = superuser_client.get(url).content.decode()
        select = re.search(r'<select name="keeper".*?</select>', body, re.S).group(0)
        options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select)
        assert [value for value, _label in options] == ["", *pks]
        assert (current.pk.get(), f"k{keepers.index(current)} ({current.pk.get()})") in options
        response = superuser_client.post(url, {"keeper": "99"})
        assert response.status_code == 200 and "99" in response.content.decode()
        response = superuser_client.post(url, {"keeper": keepers[4].pk.get()})
        assert response.status_code == 302
    assert Cage(cage.pk.get()).keeper.hget() == keepers[4].pk.get()
    assert Animal(animal.pk.get()).keeper.hget() == keepers[4].pk.get()
    listing = superuser_client.get("/admin/redis/library/animal/").content.decode()
    keeper_pk = keepers[4].pk.get()
    assert f'<a href="/admin/redis/library/keeper/{keeper_pk}/change/">' in listing
