"""PKField and AutoPKField: given or counted pks, never changed, any string, no round trip."""

from __future__ import annotations

import pytest

from django_limpyd import exceptions
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.fields import AutoPKField, InstanceHashField, PKField, StringField
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

SPECIAL_PKS = [
    ":", "a:b", "*", "a*b", "?", "[ab]", "{", "}", "{x}", "a b", " lead", "trail ", "new\nline",
    "tab\t", "\\", "é", "日本", "emoji 🚀", "0", "-1", "1.5", "pks", "max", "h:1", "f:name:1",
    "x" * 300,
]  # fmt: skip


@pytest.fixture
def Auto(database):
    """A model with the implicit AutoPKField named ``pk``."""
    db = database

    class PkAuto(RedisModel):
        database = db
        namespace = "t_pk"
        name = StringField()
        unique = InstanceHashField(unique=True)

    return PkAuto


@pytest.fixture
def Named(database):
    """A model with a PKField named ``ident``."""
    db = database

    class PkNamed(RedisModel):
        database = db
        namespace = "t_pk"
        ident = PKField()
        name = StringField(indexable=True)
        color = InstanceHashField(default="red")

    return PkNamed


@pytest.fixture
def Bare(database):
    """A model with a PKField and no defaults: ``Bare()`` is an unsaved instance."""
    db = database

    class PkBare(RedisModel):
        database = db
        namespace = "t_pk"
        key = PKField()
        name = StringField()

    return PkBare


@pytest.fixture
def CustomAuto(database):
    """A model with an AutoPKField named ``id``."""
    db = database

    class PkCustomAuto(RedisModel):
        database = db
        namespace = "t_pk"
        id = AutoPKField()
        name = StringField()

    return PkCustomAuto


def value_id(value):
    """A test id that is the same in every xdist worker (no memory address)."""
    return "object()" if type(value) is object else repr(value)


def all_keys(database):
    return sorted(database.connection.keys())


# -- AutoPKField ----------------------------------------------------------------------------


def test_a_model_without_pk_field_gets_an_autopkfield_named_pk(Auto):
    assert isinstance(Auto._meta.pk_field, AutoPKField)
    assert Auto._meta.pk_field.name == "pk"
    assert Auto.get_field("pk") is Auto._meta.pk_field


def test_autopk_values_are_1_2_3_as_strings(Auto):
    pks = [Auto(name=f"n{i}").pk.get() for i in range(3)]
    assert pks == ["1", "2", "3"]
    assert all(type(pk) is str for pk in pks)


def test_an_autopk_value_is_never_given_twice(Auto):
    Auto(name="a")
    Auto(name="b").delete()
    assert Auto(name="c").pk.get() == "3"


def test_a_failed_create_consumes_no_autopk_value(database, Auto):
    Auto(unique="taken")
    with pytest.raises(UniquenessError):
        Auto(name="x", unique="taken")
    assert database.connection.get(Auto._meta.keys.max_pk) == "1"
    assert Auto(name="y").pk.get() == "2"


@pytest.mark.parametrize("name", ["pk", "id"])
def test_giving_an_autopk_value_is_an_implementation_error_and_writes_nothing(
    database, CustomAuto, name
):
    CustomAuto(name="first")
    keys_before = all_keys(database)
    with pytest.raises(ImplementationError, match="PkCustomAuto.id"):
        CustomAuto(name="x", **{name: 7})
    assert all_keys(database) == keys_before


def test_setting_an_autopk_is_an_implementation_error(database, Auto):
    with pytest.raises(ImplementationError, match="AutoPKField"):
        Auto().pk.set("5")
    assert all_keys(database) == []
    existing = Auto(name="a")
    with pytest.raises(ImplementationError):
        existing.pk.set("5")
    assert existing.pk.get() == "1"
    assert Auto.exists("1")


def test_a_custom_named_autopk_is_reachable_as_pk_too(CustomAuto):
    instance = CustomAuto(name="a")
    assert instance.pk.get() == instance.id.get() == "1"
    assert type(instance.pk) is AutoPKField
    assert CustomAuto.get_field("pk") is CustomAuto.get_field("id")
    assert CustomAuto.has_field("pk")
    assert CustomAuto(instance.pk.get()).name.get() == "a"
    assert CustomAuto.get(pk="1").id.get() == "1"
    assert CustomAuto.get(id="1").pk.get() == "1"


# -- PKField ----------------------------------------------------------------------------


def test_a_pkfield_value_is_given_at_creation(database, Named):
    instance = Named(ident="alice", name="Alice")
    assert instance.pk.get() == "alice"
    assert instance.ident.get() == "alice"
    assert database.connection.get(Named._meta.keys.field("name", "alice")) == "Alice"
    assert set(database.connection.zrange(Named._meta.keys.pks, 0, -1)) == {"alice"}
    assert Named("alice").hgetall() == {"color": "red"}


def test_a_pkfield_value_may_be_given_as_pk(Named):
    assert Named(pk="bob", name="Bob").ident.get() == "bob"
    assert Named("bob").name.get() == "Bob"


def test_a_number_given_as_pk_is_stored_as_a_string(Named):
    instance = Named(ident=5, name="five")
    assert instance.pk.get() == "5"
    assert Named(5).name.get() == "five"


@pytest.mark.parametrize(
    "values", [{"name": "no pk"}, {}, {"color": "blue"}], ids=["value", "defaults", "hash"]
)
def test_a_missing_pkfield_value_is_invalid_and_writes_nothing(database, Named, values):
    with pytest.raises(InvalidValue, match="PkNamed.ident"):
        Named(**values)
    assert all_keys(database) == []


@pytest.mark.parametrize(
    "bad",
    ["", None, {"a": 1}, ["a"], True, object(), b"\xff",
     pytest.param("\ud800", id="lone-surrogate")],
    ids=value_id,
)  # fmt: skip
def test_a_bad_pkfield_value_is_invalid_and_writes_nothing(database, Named, bad):
    with pytest.raises(InvalidValue, match="PkNamed.ident"):
        Named(ident=bad, name="x")
    assert all_keys(database) == []


def test_a_duplicate_pkfield_value_raises_uniqueness_error_and_changes_nothing(database, Named):
    Named(ident="alice", name="Alice")
    keys_before = all_keys(database)
    with pytest.raises(UniquenessError, match="alice"):
        Named(ident="alice", name="Other", color="blue")
    assert all_keys(database) == keys_before
    assert Named("alice").name.get() == "Alice"
    assert Named("alice").color.hget() == "red"
    assert consistency_check(Named) == []


def test_pk_set_gives_an_unsaved_instance_its_pk(database, Bare):
    instance = Bare()
    assert instance.pk.get() is None
    assert all_keys(database) == []
    assert instance.pk.set("carol") is True
    assert instance.pk.get() == "carol"
    assert Bare.exists("carol")
    instance.name.set("Carol")
    assert Bare("carol").name.get() == "Carol"


def test_a_write_to_an_unsaved_instance_without_pk_is_refused(database, Bare):
    instance = Bare()
    with pytest.raises(ImplementationError, match="PkBare.key"):
        instance.name.set("x")
    assert instance.pk.get() is None
    assert all_keys(database) == []


@pytest.mark.parametrize("new", ["other", "alice"])
def test_pk_set_on_an_existing_instance_is_refused(database, Named, new):
    instance = Named(ident="alice", name="A")
    keys_before = all_keys(database)
    with pytest.raises(ImplementationError, match="PkNamed.ident"):
        instance.pk.set(new)
    with pytest.raises(ImplementationError, match="PkNamed.ident"):
        instance.ident.set(new)
    assert instance.pk.get() == "alice"
    assert all_keys(database) == keys_before


@pytest.mark.parametrize("option", ["indexable", "unique", "default"])
@pytest.mark.parametrize("field_class", [PKField, AutoPKField])
def test_pk_fields_refuse_index_and_default_options(field_class, option):
    with pytest.raises(ImplementationError, match=option):
        field_class(**{option: "x" if option == "default" else True})


@pytest.mark.parametrize(
    "call", ["expire", "pexpire", "expireat", "pexpireat", "persist", "ttl", "pttl", "delete"]
)
def test_expiry_and_delete_are_refused_on_pk_fields(database, Named, Auto, call):
    args = {"expire": (10,), "pexpire": (10,), "expireat": (10,), "pexpireat": (10,)}
    for instance in (Named(ident="a", name="n"), Auto(name="n")):
        keys_before = all_keys(database)
        with pytest.raises(ImplementationError):
            getattr(instance.pk, call)(*args.get(call, ()))
        assert all_keys(database) == keys_before


# -- any string is a pk -----------------------------------------------------------------


@pytest.mark.parametrize("pk", SPECIAL_PKS, ids=lambda pk: repr(pk[:20]))
def test_a_pk_with_special_characters_round_trips(database, Named, pk):
    Named(ident="a", name="neighbour")
    instance = Named(ident=pk, name=f"name of {pk}", color="blue")
    assert instance.pk.get() == pk
    found = Named(pk)
    assert found.pk.get() == pk
    assert found.name.get() == f"name of {pk}"
    assert found.hgetall() == {"color": "blue"}
    assert Named.exists(pk)
    assert Named.get(pk=pk).name.get() == f"name of {pk}"
    assert database.connection.hgetall(Named._meta.keys.instance_hash(pk)) == {"color": "blue"}
    assert consistency_check(Named) == []
    found.name.set("renamed")
    assert Named.lazy_connect(pk).name.get() == "renamed"
    assert Named("a").name.get() == "neighbour"
    found.delete()
    assert not Named.exists(pk)
    assert database.connection.zrange(Named._meta.keys.pks, 0, -1) == ["a"]
    assert consistency_check(Named) == []
    assert all(
        key.endswith(":a") or ":x:" in key or key.endswith(":pks") for key in all_keys(database)
    )


def test_pks_that_look_alike_never_share_a_key(database, Named):
    pks = ["a", "a:b", "a:", "a*", "{a}", "a b", "A"]
    for pk in pks:
        Named(ident=pk, name=f"is {pk}", color=f"c {pk}")
    for pk in pks:
        assert Named(pk).name.get() == f"is {pk}"
        assert Named(pk).color.hget() == f"c {pk}"
    Named("a").delete()
    assert [Named(pk).name.get() for pk in pks[1:]] == [f"is {pk}" for pk in pks[1:]]


# -- connecting ---------------------------------------------------------------------------


@pytest.mark.parametrize("pk", ["2", "999", "a:b", "{*}", " ", "missing"])
def test_connecting_to_a_missing_pk_raises_the_models_does_not_exist(Auto, Named, pk):
    Auto(name="a")
    Named(ident="a", name="a")
    for model in (Auto, Named):
        with pytest.raises(model.DoesNotExist) as caught:
            model(pk)
        assert isinstance(caught.value, exceptions.DoesNotExist)
    assert not issubclass(Named.DoesNotExist, Auto.DoesNotExist)


def test_connecting_to_an_empty_pk_is_invalid(Named):
    with pytest.raises(InvalidValue, match="PkNamed.ident"):
        Named("")


def test_connecting_to_a_deleted_instance_raises_does_not_exist(Auto):
    instance = Auto(name="a")
    pk = instance.pk.get()
    instance.delete()
    with pytest.raises(Auto.DoesNotExist):
        Auto(pk)


def test_connecting_takes_one_pk_and_nothing_else(Auto):
    Auto(name="a")
    with pytest.raises(ImplementationError):
        Auto("1", name="b")
    with pytest.raises(ImplementationError):
        Auto("1", "2")


# -- round trips ----------------------------------------------------------------------------


def test_pk_get_is_a_str_and_costs_no_round_trip(database, Auto, Named, CustomAuto):
    instances = [Auto(name="a"), Named(ident="n", name="n"), CustomAuto(name="c")]
    connected = [Auto("1"), Named("n"), CustomAuto("1")]
    database.load_scripts()
    with assert_num_commands(0, database):
        lazy = [Auto.lazy_connect(1), Named.lazy_connect("n"), CustomAuto.lazy_connect("1")]
        values = [instance.pk.get() for instance in instances + connected + lazy]
        values.append(instances[2].id.get())
    assert values == ["1", "n", "1"] * 3 + ["1"]
    assert all(type(value) is str for value in values)


def test_connecting_to_an_instance_is_one_command(database, Named):
    Named(ident="n", name="n")
    with assert_num_commands(1, database, round_trips=1):
        Named("n")
