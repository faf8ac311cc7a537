"""Loading and calling the compiled libraries on the async transport.

The async twin of :mod:`django_limpyd.storage.functions`, sharing its knowledge of the
server per client (functions or scripts, libraries loaded), its command building
(``command_args``) and its error parsing (``parse_script_error``,
``is_missing_library``): only the sending differs. As there, loads are unseen by
the observers, and a call answered "Function not found" (or ``NOSCRIPT``) ran nothing:
the library is loaded and the call sent once more, so a write is never applied twice.
On a Redis Cluster, the library is loaded on every primary, and every call declares
its guard key (``command_args``), as on the sync path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis.exceptions import DataError, ReadOnlyError, ResponseError

from django_limpyd.aio.cluster import is_async_cluster
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.storage import functions
from django_limpyd.storage.compiler import Library
from django_limpyd.storage.functions import ScriptError

if TYPE_CHECKING:
    from django_limpyd.aio.client import AsyncLimpydRedis
    from django_limpyd.model.writes import FunctionCall

__all__ = ["acall", "acall_read_only", "aensure_loaded", "arun", "asend_call"]


async def _aload(client: AsyncLimpydRedis, library: Library) -> None:
    state = functions._state(client)
    if is_async_cluster(client):  # as the sync _load_on_primaries
        if library.foreign_hash_tags:
            raise ImplementationError(
                f"On a Redis Cluster, the model {library.hash_tag} has related fields to or "
                f"from {', '.join(library.foreign_hash_tags)}, whose keys live in other "
                "slots; give these models one hash_tag (e.g. hash_tag = 'blog' on each) so "
                "that their writes stay atomic on one node (see docs/scaling.rst)."
            )
        await client.aload_on_primaries(library.function_source)
        state.functions = True
        state.cluster = True  # every call also declares the library's guard key
        state.loaded.add(library.name)
        return
    if state.functions is not False:
        try:
            await client.send_unobserved("FUNCTION", "LOAD", library.function_source)
            state.functions = True
        except ResponseError as error:
            message = str(error)
            if "already exists" in message:
                state.functions = True
            elif isinstance(error, ReadOnlyError) and await _alisted(client, library):
                state.functions = True  # a replica: the library came from its primary
            elif "unknown command" in message.lower() and state.functions is not True:
                # Redis 6.2: the same text as a script (not None: another task that
                # sent its FUNCTION LOAD alongside this one may have found out first)
                state.functions = False
            else:
                raise
    if state.functions is False:
        await client.send_unobserved("SCRIPT", "LOAD", library.script_source)
    state.loaded.add(library.name)


async def _alisted(client: AsyncLimpydRedis, library: Library) -> bool:
    """True if the server of ``client`` has ``library`` (``FUNCTION LIST``, read-only)."""
    return bool(await client.send_unobserved("FUNCTION", "LIST", "LIBRARYNAME", library.name))


async def aensure_loaded(client: AsyncLimpydRedis, library: Library, force: bool = False) -> None:
    """Load ``library`` on the server of ``client`` unless this client already did (two
    tasks loading it at once is harmless: the second load says "already exists")."""
    if force or library.name not in functions._state(client).loaded:
        await _aload(client, library)


async def asend_call(
    client: AsyncLimpydRedis, library: Library, operation: str, keys: list, args: list
) -> Any:
    """Send ``operation`` of ``library``; the raw reply. A library the server lost is
    loaded again and the call sent once more; any other error reply is raised as is."""
    await aensure_loaded(client, library)
    try:
        return await client.execute_command(
            *functions.command_args(client, library, operation, keys, args)
        )
    except ResponseError as error:
        if not functions.is_missing_library(error):
            raise
    await aensure_loaded(client, library, force=True)  # nothing ran: load, send again
    return await client.execute_command(
        *functions.command_args(client, library, operation, keys, args)
    )


async def acall(
    client: AsyncLimpydRedis, library: Library, operation: str, keys: list, args: list
) -> Any:
    """:func:`django_limpyd.storage.functions.call` on the async transport: our errors
    come back as :class:`ScriptError`."""
    try:
        return await asend_call(client, library, operation, keys, args)
    except ResponseError as error:
        parsed = functions.parse_script_error(error)
        if parsed is None:
            raise
        raise parsed from None


async def acall_read_only(
    client: Any, primary: Any, library: Library, operation: str, keys: list, args: list
) -> Any:
    """:func:`django_limpyd.storage.functions.call_read_only` on the async transport:
    the read-only ``operation`` on ``client``, a read-only replica of ``primary`` (or
    ``primary`` itself); on ``primary`` while the replica lacks the library (it cannot
    load it: ``FUNCTION LOAD`` is a write)."""
    if client is not primary:
        try:
            return await acall(client, library, operation, keys, args)
        except ResponseError as error:
            if not (isinstance(error, ReadOnlyError) or functions.is_missing_library(error)):
                raise
    return await acall(primary, library, operation, keys, args)


async def arun(call: FunctionCall, client: AsyncLimpydRedis, primary: Any = None) -> Any:
    """:meth:`FunctionCall.run` on the async transport: the raw reply of the call, sent
    again while the function asks for transforms (``NEED``, nothing written); its
    errors become the ORM's exceptions, by the call's own :meth:`~FunctionCall.error`.

    ``primary``: given for a read-only call sent to ``client``, a replica (see
    :func:`acall_read_only`)."""
    from django_limpyd.model.writes import MAX_TRANSFORM_ROUNDS

    for _round in range(MAX_TRANSFORM_ROUNDS):
        try:
            if primary is not None:
                return await acall_read_only(
                    client, primary, call.library, call.operation, call.keys, call.args(call.tmap)
                )
            return await acall(
                client, call.library, call.operation, call.keys, call.args(call.tmap)
            )
        except ScriptError as error:
            if error.code != "NEED":
                raise call.error(error) from None
            call.add_transforms(error.payload)
        except DataError as error:
            raise InvalidValue(f"{call.model._meta.name}: {error}") from None
    raise ImplementationError(
        f"{call.model._meta.name}: the values to index kept changing during "
        f"{MAX_TRANSFORM_ROUNDS} tries (concurrent writers on a field with transformed "
        "indexes); nothing was written."
    )
