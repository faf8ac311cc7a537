"""``limpyd_flush``: every key of the models given, nothing else, after a confirmation."""

from __future__ import annotations

import builtins

import pytest
from django.core.management.base import CommandError

from django_limpyd.management.commands import limpyd_flush
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import dump_all, keys_of, run


@pytest.fixture
def answer(monkeypatch):
    """Answer the confirmation with a given text; the prompts asked are recorded."""
    prompts = []

    def set_answer(text):
        def fake_input(prompt=""):
            prompts.append(prompt)
            return text

        monkeypatch.setattr(builtins, "input", fake_input)
        return prompts

    return set_answer


def without(dumps, client, model):
    """``dumps`` without the keys of ``model`` but its AutoPK counter (kept by a flush)."""
    prefix = (model._meta.keys.prefix + ":").encode()
    kept = model._meta.keys.max_pk.encode()
    return {key: value for key, value in dumps.items() if not key.startswith(prefix) or key == kept}


def test_flush_foo_leaves_foobar_byte_identical(data, raw):
    before = {db: dump_all(client) for db, client in raw.items()}
    foo_keys = keys_of(raw[0], shop.Foo) - {"{shop:Foo}:max"}  # the AutoPK counter stays
    assert any(key.startswith("{shop:Foo}:x:value:eq:") for key in foo_keys)
    result = run("limpyd_flush", "shop.Foo", "--noinput")
    assert keys_of(raw[0], shop.Foo) == {"{shop:Foo}:max"}
    assert result.lines == [
        f"shop.Foo: {len(foo_keys)} keys deleted.",
        f"Flushed {len(foo_keys)} keys from the 'default' database.",
    ]
    after = {db: dump_all(client) for db, client in raw.items()}
    assert after[0] == without(before[0], raw[0], shop.Foo)
    assert after[1] == before[1]
    assert len(keys_of(raw[0], shop.FooBar)) == len(foo_keys) + 1  # same shape, all there


def test_flush_model_with_glob_pks(data, raw, tag_model):
    before = dump_all(raw[0])
    run("limpyd_flush", "shop.Tag", interactive=False)
    assert keys_of(raw[0], tag_model) == set()
    assert dump_all(raw[0]) == without(before, raw[0], tag_model)


def test_confirmation_says_what_will_go_and_no_deletes_nothing(data, raw, answer):
    prompts = answer("no")
    before = {db: dump_all(client) for db, client in raw.items()}
    result = run("limpyd_flush", "shop.Foo", "shop.Person", "shop.Foo")
    assert result.lines == ["Flush cancelled."]
    assert {db: dump_all(client) for db, client in raw.items()} == before
    (prompt,) = prompts
    # the AutoPK counters are not counted: they stay
    foo, person = len(keys_of(raw[0], shop.Foo)) - 1, len(keys_of(raw[0], shop.Person)) - 1
    assert "on the 'default' database:\n" in prompt
    assert f"    shop.Foo: {foo} keys\n    shop.Person: {person} keys\n" in prompt
    assert f"IRREVERSIBLY DESTROY these {foo + person} keys" in prompt
    assert "collections). The AutoPK counters are kept (--reset-pk resets them).\n" in prompt
    assert prompt.endswith("Type 'yes' to continue, or 'no' to cancel: ")


def test_yes_deletes(data, raw, answer):
    answer("yes")
    run("limpyd_flush", "shop.Person", "shop.FooBar")
    assert keys_of(raw[0], shop.Person) == {"{shop:Person}:max"}
    assert keys_of(raw[0], shop.FooBar) == {"{shop:FooBar}:max"}
    assert keys_of(raw[0], shop.Foo) and keys_of(raw[0], crm.Person)


def test_dry_run_only_counts(data, raw, answer):
    prompts = answer("yes")
    before = dump_all(raw[0])
    result = run("limpyd_flush", "shop.Foo", "crm.Person", dry_run=True)
    foo, person = len(keys_of(raw[0], shop.Foo)) - 1, len(keys_of(raw[0], crm.Person)) - 1
    assert result.lines == [
        f"Dry run: {foo + person} keys would be deleted from the 'default' database:",
        f"    shop.Foo: {foo} keys",
        f"    crm.Person: {person} keys",
    ]
    assert dump_all(raw[0]) == before and prompts == []


def test_other_database(data, raw):
    before = dump_all(raw[0])
    with pytest.raises(
        CommandError,
        match="crm.Contact lives on the 'other' database, not on "
        "'default': add --database other. Nothing was done.",
    ):
        run("limpyd_flush", "shop.Foo", "crm.Contact", "--noinput")
    assert dump_all(raw[0]) == before  # shop.Foo was checked first, not flushed
    assert keys_of(raw[1], crm.Contact)
    run("limpyd_flush", "crm.Contact", "--database", "other", "--noinput")
    assert raw[1].keys("*") == [b"{contacts:Contact}:max"] and dump_all(raw[0]) == before
    with pytest.raises(CommandError, match="shop.Foo lives on the 'default' database"):
        run("limpyd_flush", "shop.Foo", database="other", interactive=False)


def test_nothing_to_flush(answer):
    prompts = answer("yes")
    assert run("limpyd_flush", "shop.Foo").lines == [
        "Nothing to flush: no keys of these models on 'default'."
    ]
    assert prompts == []


def test_chunks_and_progress(raw):
    for number in range(25):
        shop.Foo(value=f"v{number}")
    shop.FooBar(value="v1")
    total = len(keys_of(raw[0], shop.Foo))
    command = limpyd_flush.Command()
    command.chunk_size, command.progress_every = 4, 10
    result = run(command, "shop.Foo", interactive=False, reset_pk=True)
    assert keys_of(raw[0], shop.Foo) == set() and keys_of(raw[0], shop.FooBar)
    assert total == 52  # pks, max, 25 values, 25 index keys
    steps = [12, 20, 32, 40, 52]  # a line each time 10 more keys are done, chunks of 4
    assert result.stderr.splitlines() == [f"shop.Foo: {n} keys counted" for n in steps] + [
        f"shop.Foo: {n}/52 keys deleted ({n * 100 // 52}%)" for n in steps
    ]
    quiet = limpyd_flush.Command()
    quiet.progress_every = 1
    shop.Foo(value="again")
    assert run(quiet, "shop.Foo", interactive=False, verbosity=0).stderr == ""


@pytest.mark.parametrize(
    "labels, message",
    [
        (["shop"], "'shop' is not a model label: expected 'app_label.ModelName'"),
        (["shop.Foo", "shop."], "'shop.' is not a model label"),
        (["shop.Foo", "shop.Nope"], "Unknown Redis model 'shop.Nope'. Known models: "),
        (["nope.Foo"], "Unknown Redis model 'nope.Foo'"),
        (["shop.Foo.value"], "is not a model label"),
    ],
)
def test_bad_labels_delete_nothing(data, raw, labels, message):
    before = dump_all(raw[0])
    with pytest.raises(CommandError, match=message):
        run("limpyd_flush", *labels, "--noinput")
    assert dump_all(raw[0]) == before


def test_a_label_is_required():
    with pytest.raises(CommandError, match="the following arguments are required"):
        run("limpyd_flush")


def test_no_answer_cancels(data, raw, monkeypatch):
    def closed_stdin(prompt=""):
        raise EOFError

    monkeypatch.setattr(builtins, "input", closed_stdin)
    before = dump_all(raw[0])
    assert run("limpyd_flush", "shop.Foo").lines == ["Flush cancelled."]
    assert dump_all(raw[0]) == before
