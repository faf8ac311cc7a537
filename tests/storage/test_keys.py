"""The key layout: no collisions, one prefix and one hash tag per model."""

import itertools

import pytest

from django_limpyd import fields
from django_limpyd.model import RedisModel
from django_limpyd.storage.keys import ModelKeys, escape, glob_escape

NASTY = ["", "a", "a:b", "a*", "?", "[x]", "{t}", "}", "{", "a b", "a\nb", "é", "%", "%3A", "-_.~"]


def hash_tag(key: str) -> str:
    start = key.index("{")
    return key[start + 1 : key.index("}", start + 1)]


def test_escape_is_injective_and_leaves_no_separator():
    escaped = [escape(text) for text in NASTY]
    assert len(set(escaped)) == len(NASTY)
    for text in escaped:
        assert not set(text) & set(":{}*?[]\\ \n")


@pytest.mark.parametrize("namespace", ["", "shop", "a:b", "{x}", "*"])
def test_every_key_of_a_model_shares_prefix_and_hash_tag(namespace):
    keys = ModelKeys(namespace, "Person")
    made = [
        keys.pks,
        keys.max_pk,
        keys.instance_hash("p:1*"),
        keys.field("name", "{pk}"),
        keys.index_storage("name", "eq", None, None) + "v:a*l",
        keys.index_storage("name", "text", "pre", "k"),
        keys.index_storage("name", "num"),
        keys.scratch,
        keys.stored(),
    ]
    for key in made:
        assert key.startswith(keys.prefix + ":")
        assert keys.owns(key)
        assert hash_tag(key) == hash_tag(keys.prefix)


def test_no_prefix_starts_with_another_models_prefix():
    models = [
        ModelKeys(ns, name) for ns in ("", "a", "a:b", "ab") for name in ("Foo", "FooBar", "F")
    ]
    for first, second in itertools.permutations(models, 2):
        assert not second.prefix.startswith(first.prefix)
        assert not first.owns(second.pks)


def test_different_things_never_share_a_key():
    keys = ModelKeys("ns", "Model")
    made = set()
    count = 0
    for pk in NASTY[1:]:
        for field in ("a", "a:b", "h"):
            made.add(keys.field(field, pk))
            count += 1
        made.add(keys.instance_hash(pk))
        count += 1
        for value in NASTY:
            for prefix, key in ((None, None), ("p", None), (None, "k")):
                made.add(keys.index_storage(pk, "eq", prefix, key) + value)
                count += 1
    assert len(made) == count


def test_glob_escape_matches_literally(database):
    database.connection.set("a*b", 1)
    database.connection.set("axb", 1)
    assert list(database.scan_keys(match=glob_escape("a*b"))) == ["a*b"]
    assert sorted(database.scan_keys(match="a*b")) == ["a*b", "axb"]


def test_values_with_glob_characters_stay_in_their_model(database):
    class Glob(RedisModel):
        namespace = "glob"
        name = fields.StringField(indexable=True)

    class GlobOther(RedisModel):
        namespace = "glob"
        name = fields.StringField(indexable=True)

    Glob.use_database(database)
    GlobOther.use_database(database)
    for value in NASTY[1:]:
        Glob(name=value)
        GlobOther(name=value)
    assert all(Glob._meta.keys.owns(key) for key in Glob.scan_model_keys())
    assert len(list(Glob.scan_model_keys())) == 2 + 2 * (len(NASTY) - 1)
