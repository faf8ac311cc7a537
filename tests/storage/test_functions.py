"""``list_libraries`` and ``delete_library``: the libraries on a server, any client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from django_limpyd.storage import compiler, functions
from django_limpyd.storage.compiler import compile_library

LIBRARY = compile_library({"fields": [], "hash": "{x:Y}:h:", "referrers": []}, {})
OTHER_CODE = "#!lua name=not_ours\nredis.register_function('not_ours_f', function() return 1 end)"


@pytest.fixture
def client(redis_server: Any) -> Iterator[redis.Redis]:
    """A decoded client of the suite's server, with no library on it during the test."""
    client = redis_server.client()
    if functions.list_libraries(client) is None:
        client.close()
        pytest.skip("the server has no functions (Redis < 7)")
    raw = redis.Redis(**redis_server.connection_kwargs())  # FUNCTION DUMP is binary
    saved = raw.function_dump()
    client.function_flush()
    yield client
    raw.function_restore(saved, "FLUSH")
    raw.close()
    client.close()


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("decoded", [True, False])
def test_list_libraries_with_any_client(client, redis_server, protocol, decoded):
    functions.ensure_loaded(client, LIBRARY)
    client.function_load(OTHER_CODE)
    reader = redis.Redis(
        **redis_server.connection_kwargs(), protocol=protocol, decode_responses=decoded
    )
    expected = sorted(LIBRARY.function(operation) for operation in compiler.OPERATIONS)
    assert functions.list_libraries(reader) == {LIBRARY.name: expected}
    assert functions.list_libraries(reader, prefix="not_") == {"not_ours": ["not_ours_f"]}
    assert functions.list_libraries(reader, prefix="limpyd_*") == {}  # a prefix, not a glob
    reader.close()


def test_delete_library(client):
    functions.ensure_loaded(client, LIBRARY)
    assert functions.delete_library(client, LIBRARY.name) is True
    assert functions.list_libraries(client) == {}
    assert functions.delete_library(client, LIBRARY.name) is False
    functions.ensure_loaded(client, LIBRARY)  # the client knows it must load it again
    assert list(functions.list_libraries(client)) == [LIBRARY.name]
