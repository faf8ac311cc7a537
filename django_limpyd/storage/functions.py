"""Loading compiled libraries on a server and calling their operations.

Per client, the first call of a library loads it (``FUNCTION LOAD`` on Redis 7,
``SCRIPT LOAD`` on older servers, found out on the first load) outside of the
client's observers, so that loading never shows in command counts. A call that
finds its library gone (``FUNCTION FLUSH``, a restart without persistence:
"Function not found" or ``NOSCRIPT``) ran nothing, so the library is loaded
again and the call sent once more: a write is never applied twice.

Errors raised by our operations (``LIMPYD_<CODE> <json>``) come back as
:class:`ScriptError`.

A read-only replica refuses ``FUNCTION LOAD`` (a write): it has a library only once
its primary sent it. :func:`call_read_only` runs a read-only operation on a replica,
and on the primary while the replica does not have its library.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError

from django_limpyd.client import resp2_reply_callbacks, send_unobserved
from django_limpyd.client_cluster import is_cluster
from django_limpyd.storage.compiler import LIBRARY_PREFIX, Library
from django_limpyd.storage.keys import glob_escape

__all__ = [
    "ScriptError",
    "call",
    "call_read_only",
    "delete_library",
    "ensure_loaded",
    "ensure_present",
    "is_missing_library",
    "list_libraries",
    "loaded_command",
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


#: decodes the JSON of our errors (stateless: shared)
_DECODER = json.JSONDecoder()


def parse_script_error(error: ResponseError) -> ScriptError | None:
    """Our ``LIMPYD_<CODE>`` error inside a Redis error reply, if it is one."""
    message = str(error)
    start = message.find("LIMPYD_")
    if start < 0:
        return None
    code, _, rest = message[start + len("LIMPYD_") :].partition(" ")
    # Redis may append " script: ..., on @user_script:..." after our JSON
    try:
        payload, _end = _DECODER.raw_decode(rest)
    except ValueError:
        payload = rest
    return ScriptError(code, payload)


_RESP2_CALLBACKS: Any = None


def reply_callback(command: str) -> Callable[..., Any] | None:
    """redis-py's parser of ``command``'s reply as our functions return it: Lua tables
    become RESP2 arrays whatever the connection's protocol."""
    global _RESP2_CALLBACKS
    if _RESP2_CALLBACKS is None:
        _RESP2_CALLBACKS = resp2_reply_callbacks()
    return _RESP2_CALLBACKS.get(command)


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
        #: a Redis Cluster: every call also declares its library's guard key
        self.cluster = False
        self.loaded: set[str] = set()
        self.lock = threading.Lock()


def _state(client: Any) -> _ServerState:
    state = client.__dict__.get("_limpyd_server_state")
    if state is None:
        state = client.__dict__.setdefault("_limpyd_server_state", _ServerState())
    return state


def _unobserved(client: Any, *args: Any, **options: Any) -> Any:
    # django_limpyd's observers (command counts, logging) do not see library loads
    return send_unobserved(client, *args, **options)


def _load(client: Any, library: Library, state: _ServerState) -> None:
    if is_cluster(client):
        _load_on_primaries(client, library)
        state.functions = True
        state.cluster = True
        state.loaded.add(library.name)
        return
    if state.functions is None:
        _refuse_cluster_node(client)
    if state.functions is not False:
        try:
            _unobserved(client, "FUNCTION", "LOAD", library.function_source)
            state.functions = True
        except ResponseError as error:
            message = str(error)
            if "already exists" in message:
                state.functions = True
            elif isinstance(error, ReadOnlyError) and _listed(client, library):
                state.functions = True  # a replica: the library came from its primary
            elif "unknown command" in message.lower() and state.functions is None:
                state.functions = False
            else:
                raise
    if state.functions is False:
        _unobserved(client, "SCRIPT", "LOAD", library.script_source)
    state.loaded.add(library.name)


def _load_on_primaries(client: Any, library: Library) -> None:
    """``FUNCTION LOAD`` on every primary of a Redis Cluster (a replica gets it from its
    primary; a primary that already has it says so).

    Refused when the library touches keys of models in other slots (related fields
    between models without a shared ``hash_tag``): a function runs on one node."""
    if library.foreign_hash_tags:
        from django_limpyd.exceptions import ImplementationError

        raise ImplementationError(
            f"On a Redis Cluster, the model {library.hash_tag} has related fields to or from "
            f"{', '.join(library.foreign_hash_tags)}, whose keys live in other slots; give "
            "these models one hash_tag (e.g. hash_tag = 'blog' on each) so that their "
            "writes stay atomic on one node (see docs/scaling.rst)."
        )
    for node in client.get_primaries():
        try:
            _unobserved(client, "FUNCTION", "LOAD", library.function_source, target_nodes=node)
        except ResponseError as error:
            if "already exists" not in str(error):
                raise


def _refuse_cluster_node(client: Any) -> None:
    """Raise ``ImproperlyConfigured`` if ``client``, a plain client, talks to a node of a
    Redis Cluster: most keys would live on other nodes (``MOVED``)."""
    try:
        info = _unobserved(client, "INFO", "cluster")
    except ResponseError:
        return
    if str(info.get("cluster_enabled", 0)) == "1":
        from django.core.exceptions import ImproperlyConfigured

        kwargs = client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        raise ImproperlyConfigured(
            f"The Redis server at {where} is a node of a Redis Cluster (cluster_enabled:1); "
            f"connect to the cluster with LOCATION 'redis+cluster://{where}/' (every node "
            "may be listed, comma-separated), not with a plain redis:// URL."
        )


def _listed(client: Any, library: Library) -> bool:
    """True if the server of ``client`` has ``library`` (``FUNCTION LIST``, read-only)."""
    return bool(_unobserved(client, "FUNCTION", "LIST", "LIBRARYNAME", library.name))


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


def loaded_command(client: Any, library: Library, operation: str, keys: list, args: list) -> tuple:
    """The command calling ``operation``, the library loaded first if this client did not
    (:func:`ensure_loaded` then :func:`command_args`, with one look at the client's state
    in the usual case: functions, library loaded, no cluster)."""
    state = _state(client)
    if state.functions and not state.cluster and library.name in state.loaded:
        command, name = library.calls[operation]
        return (command, name, len(keys), *keys, *args)
    ensure_loaded(client, library)
    return command_args(client, library, operation, keys, args)


def command_args(client: Any, library: Library, operation: str, keys: list, args: list) -> tuple:
    """The command calling ``operation`` (the library must be loaded by this client)."""
    state = _state(client)
    if state.cluster:
        keys = [*keys, library.guard]
    if state.functions:
        command, name = library.calls[operation]
        return (command, name, len(keys), *keys, *args)
    return ("EVALSHA", library.sha, len(keys), *keys, operation, *args)


def call(
    client: Any, library: Library, operation: str, keys: list, args: list, owner: Any = None
) -> Any:
    """Run ``operation`` of ``library`` now; our errors come back as ScriptError.

    ``owner``: the client whose knowledge of the server is used (``client`` itself by
    default; the database's client when ``client`` is one of its pipelines)."""
    owner = owner or client
    state = _state(owner)
    try:
        try:
            if state.functions and library.name in state.loaded and not state.cluster:
                command, name = library.calls[operation]  # the usual case
                return client.execute_command(command, name, len(keys), *keys, *args)
            ensure_loaded(owner, library)
            return client.execute_command(*command_args(owner, library, operation, keys, args))
        except ResponseError as error:
            if not is_missing_library(error):
                raise
            ensure_loaded(owner, library, force=True)  # nothing ran: load, send again
            return client.execute_command(*command_args(owner, library, operation, keys, args))
    except ResponseError as error:
        if "LIMPYD_" not in str(error):
            raise
        # raised without a local name: a local would tie the exception, its traceback and
        # this frame in a cycle only the garbage collector frees
        raise parse_script_error(error) from None


def call_read_only(
    client: Any, primary: Any, library: Library, operation: str, keys: list, args: list
) -> Any:
    """Run the read-only ``operation`` now on ``client``, a read-only replica of
    ``primary`` (or ``primary`` itself); our errors come back as ScriptError.

    A replica that does not have the library (not replicated yet, or flushed) cannot
    load it: ``FUNCTION LOAD`` is a write, refused with ``READONLY``. The library is
    then loaded on ``primary`` and the call runs there; once the library reached the
    replica, the next calls run on the replica. Without functions (Redis 6.2),
    ``SCRIPT LOAD`` is allowed on replicas: a ``NOSCRIPT`` loads the script there.
    """
    if client is not primary:
        try:
            return call(client, library, operation, keys, args)
        except ResponseError as error:
            if not (isinstance(error, ReadOnlyError) or is_missing_library(error)):
                raise
    return call(primary, library, operation, keys, args)


def queue(pipe: Any, client: Any, library: Library, operation: str, keys: list, args: list) -> None:
    """Queue ``operation`` on a redis-py pipeline of ``client`` (library loaded first)."""
    ensure_loaded(client, library)
    pipe.execute_command(*command_args(client, library, operation, keys, args))


# -- the libraries on a server (manage.py limpyd_functions) -----------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(entry: Any) -> dict[str, Any]:
    # a FUNCTION LIST entry: a map (RESP3) or a flat list of name, value pairs (RESP2)
    if isinstance(entry, dict):
        return {_text(name): value for name, value in entry.items()}
    items = iter(entry)
    return {_text(name): value for name, value in zip(items, items, strict=True)}


def list_libraries(client: Any, prefix: str = LIBRARY_PREFIX) -> dict[str, list[str]] | None:
    """The function libraries on the server of ``client`` whose names start with
    ``prefix`` (``FUNCTION LIST LIBRARYNAME <prefix>*``), as ``{name: [function
    names]}`` sorted by name; any client, RESP2 or RESP3, decoded or not.

    ``None`` on a server without functions (Redis < 7): there the libraries run as
    scripts (``EVALSHA``), which the server does not list. Libraries belong to the
    server, not to one of its numbered databases.
    """
    try:
        reply = client.execute_command("FUNCTION", "LIST", "LIBRARYNAME", glob_escape(prefix) + "*")
    except ResponseError as error:
        if "unknown command" in str(error).lower():
            return None
        raise
    libraries: dict[str, list[str]] = {}
    for entry in reply or []:
        fields = _fields(entry)
        name = _text(fields.get("library_name", ""))
        if name.startswith(prefix):
            functions = fields.get("functions") or []
            libraries[name] = sorted(_text(_fields(item).get("name", "")) for item in functions)
    return dict(sorted(libraries.items()))


def delete_library(client: Any, name: str) -> bool:
    """``FUNCTION DELETE name`` on the server of ``client``: True if it was there, False
    if not (deleted meanwhile). ``client`` forgets it loaded ``name``, so its next call
    of that library loads it first."""
    _state(client).loaded.discard(name)
    try:
        client.execute_command("FUNCTION", "DELETE", name)
    except ResponseError as error:
        if "library not found" in str(error).lower():
            return False
        raise
    return True
