"""Loading compiled libraries on a server and calling their operations.

Per client, the first call of a library loads it (``FUNCTION LOAD`` on Redis 7,
``SCRIPT LOAD`` on older servers, found out on the first load) outside of the
client's observers, so that loading never shows in command counts. A call that
finds its library gone (``FUNCTION FLUSH``, a restart without persistence:
"Function not found" or ``NOSCRIPT``) ran nothing, so the library is loaded
again and the call sent once more: a write is never applied twice.

Errors raised by our operations (``LIMPYD_<CODE> <json>``) come back as
:class:`ScriptError`.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import NoScriptError, ResponseError

from django_limpyd.storage.compiler import OPERATIONS, Library

__all__ = [
    "ScriptError",
    "call",
    "ensure_loaded",
    "ensure_present",
    "is_missing_library",
    "parse_script_error",
    "queue",
    "reply_callback",
    "uses_functions",
]


class ScriptError(Exception):
    """A ``LIMPYD_<CODE> <json>`` error returned by one of our operations."""

    def __init__(self, code: str, payload: Any) -> None:
        super().__init__(code, payload)
        self.code = code
        self.payload = payload


def parse_script_error(error: ResponseError) -> ScriptError | None:
    """Our ``LIMPYD_<CODE>`` error inside a Redis error reply, if it is one."""
    message = str(error)
    start = message.find("LIMPYD_")
    if start < 0:
        return None
    code, _, rest = message[start + len("LIMPYD_") :].partition(" ")
    # Redis may append " script: ..., on @user_script:..." after our JSON
    try:
        payload, _end = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        payload = rest
    return ScriptError(code, payload)


@functools.cache
def _resp2_callbacks() -> Any:
    # a RESP2 client's callbacks (built without connecting): public redis-py API
    return redis.Redis(protocol=2).response_callbacks


def reply_callback(command: str) -> Callable[..., Any] | None:
    """redis-py's parser of ``command``'s reply as our functions return it: Lua tables
    become RESP2 arrays whatever the connection's protocol."""
    return _resp2_callbacks().get(command)


def is_missing_library(error: Exception) -> bool:
    """True if ``error`` says the server does not know the function or script called
    (nothing ran)."""
    if isinstance(error, NoScriptError):
        return True
    return isinstance(error, ResponseError) and "Function not found" in str(error)


class _ServerState:
    """What a client knows of its server: functions or scripts, libraries loaded."""

    def __init__(self) -> None:
        self.functions: bool | None = None
        self.loaded: set[str] = set()
        self.lock = threading.Lock()


def _state(client: Any) -> _ServerState:
    state = client.__dict__.get("_limpyd_server_state")
    if state is None:
        state = client.__dict__.setdefault("_limpyd_server_state", _ServerState())
    return state


def _unobserved(client: Any, *args: Any) -> Any:
    # redis.Redis's own method: django_limpyd's observers (command counts, logging) do
    # not see library loads
    return redis.Redis.execute_command(client, *args)


def _load(client: Any, library: Library, state: _ServerState) -> None:
    if state.functions is not False:
        try:
            _unobserved(client, "FUNCTION", "LOAD", library.function_source)
            state.functions = True
        except ResponseError as error:
            message = str(error)
            if "already exists" in message:
                state.functions = True
            elif "unknown command" in message.lower() and state.functions is None:
                state.functions = False
            else:
                raise
    if state.functions is False:
        _unobserved(client, "SCRIPT", "LOAD", library.script_source)
    state.loaded.add(library.name)


def ensure_loaded(client: Any, library: Library, force: bool = False) -> None:
    """Load ``library`` on the server of ``client`` unless this client already did."""
    state = _state(client)
    if force or library.name not in state.loaded:
        with state.lock:
            if force or library.name not in state.loaded:
                _load(client, library, state)


def ensure_present(client: Any, libraries: list[Library]) -> None:
    """Before a MULTI/EXEC batch on a server without functions: check (unobserved) that
    its scripts are in the server's script cache, lost by a restart or ``SCRIPT
    FLUSH``, and load those missing, so that no write of the batch comes back NOSCRIPT
    (it could not be sent again inside the same transaction). Functions are persisted
    with the data: nothing to check."""
    state = _state(client)
    if state.functions is not False or not libraries:
        return
    found = _unobserved(client, "SCRIPT", "EXISTS", *(library.sha for library in libraries))
    for library, present in zip(libraries, found, strict=True):
        if not present:
            _load(client, library, state)


def uses_functions(client: Any) -> bool:
    """True if the server of ``client`` runs Redis functions (known after a load)."""
    return bool(_state(client).functions)


def command_args(client: Any, library: Library, operation: str, keys: list, args: list) -> tuple:
    """The command calling ``operation`` (the library must be loaded by this client)."""
    if _state(client).functions:
        name = "FCALL_RO" if OPERATIONS[operation][1] else "FCALL"
        return (name, library.function(operation), len(keys), *keys, *args)
    return ("EVALSHA", library.sha, len(keys), *keys, operation, *args)


def call(
    client: Any, library: Library, operation: str, keys: list, args: list, owner: Any = None
) -> Any:
    """Run ``operation`` of ``library`` now; our errors come back as ScriptError.

    ``owner``: the client whose knowledge of the server is used (``client`` itself by
    default; the database's client when ``client`` is one of its pipelines)."""
    owner = owner or client
    ensure_loaded(owner, library)
    try:
        try:
            return client.execute_command(*command_args(owner, library, operation, keys, args))
        except ResponseError as error:
            if not is_missing_library(error):
                raise
            ensure_loaded(owner, library, force=True)  # nothing ran: load, send again
            return client.execute_command(*command_args(owner, library, operation, keys, args))
    except ResponseError as error:
        parsed = parse_script_error(error)
        if parsed is None:
            raise
        raise parsed from None


def queue(pipe: Any, client: Any, library: Library, operation: str, keys: list, args: list) -> None:
    """Queue ``operation`` on a redis-py pipeline of ``client`` (library loaded first)."""
    ensure_loaded(client, library)
    pipe.execute_command(*command_args(client, library, operation, keys, args))
