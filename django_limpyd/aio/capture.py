"""How the async API reuses the sync code: plan with it, then send on the async transport.

An async method runs its sync twin while a :class:`Capture` stands in for the
database's active pipeline, in the current thread, for the time of that synchronous
call (no ``await`` in between, so no other task of the loop can see it). The sync code
then does everything but sending: it checks and prepares the values, builds the
command with redis-py's own argument code, or the :class:`~django_limpyd.model.writes.
FunctionCall` of a write with its keys, arguments and transforms, and queues it here,
as it would in a pipeline. The capture then sends what was queued on the async client
(:mod:`django_limpyd.aio.functions`), and gives the reply to the same ``finish`` code
that parses it, sets a new instance's pk and sends ``post_save``.

Signals the sync code sends meanwhile (``pre_save``, ``post_save``, ``pre_delete``,
``post_delete``) are deferred to the capture, which sends them with Django's
``Signal.asend()``: async receivers are awaited, sync ones run through
``sync_to_async``, as Django does.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import CoreCommands
from redis.exceptions import ResponseError

from django_limpyd.client import READ_ONLY_COMMANDS
from django_limpyd.exceptions import DoesNotExist, ImplementationError, Redirected

__all__ = ["PENDING", "Capture"]


def _is_read(args: tuple[Any, ...]) -> bool:
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return name.upper() in READ_ONLY_COMMANDS


class _Pending:
    def __repr__(self) -> str:
        return "<pending async reply>"


#: what a captured command returns to the sync code (the reply comes later)
PENDING: Any = _Pending()


class _Command:
    """A plain command captured from redis-py's command methods."""

    __slots__ = ("args", "options")

    def __init__(self, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        self.args = args
        self.options = options


class _Recorder(CoreCommands):
    """redis-py's command methods, queueing ``(args, options)`` in the capture."""

    def __init__(self, capture: Capture) -> None:
        self._capture = capture

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self._capture.operations.append(_Command(args, options))
        return PENDING


class _Steps:
    """An operation planned as steps (a write of unique fields of a sharded model:
    :mod:`django_limpyd.sharding.unique`), sent by :func:`django_limpyd.aio.unique.
    arun_steps`."""

    __slots__ = ("steps",)

    def __init__(self, steps: Any) -> None:
        self.steps = steps


class Capture:
    """Stands in for the active pipeline of ``database`` while the sync code plans one
    operation (``with capture:``); :meth:`run` then sends it."""

    #: the sync code may hand it an operation planned as steps (:meth:`add_steps`)
    plans_steps = True
    #: the steps of related fields across slots are handed to it (:meth:`defer_steps`)
    defers_steps = True

    def __init__(self, database: Any) -> None:
        self.database = database
        #: where the fields send their read commands (redis-py's methods, recorded)
        self.connection = _Recorder(self)
        #: captured commands and function calls, in order
        self.operations: list[Any] = []
        #: deferred signals: (signal, keyword arguments of send)
        self.signals: list[tuple[Any, dict[str, Any]]] = []
        #: steps of related fields across slots, run before / after the operation
        self.before: list[Any] = []
        self.after: list[Any] = []

    def __enter__(self) -> Capture:
        if self.database.active_pipeline() is not None:
            raise ImplementationError(
                f"{self.database!r} has an active (sync) pipeline in this thread: its "
                "commands cannot be mixed with the async API's."
            )
        self.database._pipelines.set(self, False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.database._pipelines.set(None, False)

    # -- what the sync code calls on an active pipeline --------------------------------

    def add_function_call(self, call: Any) -> Any:
        """Queue a function call (a write, a checked read)."""
        self.operations.append(call)
        return PENDING

    def add_steps(self, steps: Any) -> Any:
        """Queue an operation planned as steps (see :class:`_Steps`)."""
        self.operations.append(_Steps(steps))
        return PENDING

    def defer_steps(self, steps: Any, before: bool) -> None:
        """Keep steps of a related field across slots (a target pre-check, a settle, the
        clearing of a deleted target's pointers: :mod:`django_limpyd.contrib.related.
        crossslot`), for :meth:`run_deferred`."""
        (self.before if before else self.after).append(steps)

    def defer_signal(self, signal: Any, kwargs: dict[str, Any]) -> None:
        """Keep a signal the sync code sends, for :meth:`send_signals`."""
        self.signals.append((signal, kwargs))

    # -- running ----------------------------------------------------------------------

    async def send_signals(self) -> None:
        """Send the deferred signals, with ``Signal.asend()``."""
        signals, self.signals = self.signals, []
        for signal, kwargs in signals:
            await signal.asend(**kwargs)

    async def run_deferred(
        self, before: bool, instances: tuple[Any, ...] = (), skip: bool = False
    ) -> None:
        """Run the steps kept by :meth:`defer_steps` on the async transport: the
        pre-checks (``before``; a refusal leaves ``instances`` unsaved), or the others
        (``skip``: dropped instead)."""
        from django_limpyd.contrib.related.crossslot import arun

        kept = self.before if before else self.after
        if skip:
            kept.clear()
        while kept:
            try:
                await arun(kept.pop(0))
            except BaseException:
                for instance in instances:
                    if instance is not None and instance.__dict__.get("_queued_creation"):
                        instance._queued_creation = False
                raise

    def single(self, what: str) -> Any:
        """The one captured operation (``None`` if the sync code sent nothing)."""
        if len(self.operations) > 1:
            raise ImplementationError(
                f"{what} sends {len(self.operations)} commands: it has no async twin."
            )
        return self.operations[0] if self.operations else None

    async def run(self, result: Any, client: Any, instance: Any = None, held: bool = False) -> Any:
        """Send the one captured operation on ``client``; what the sync method would have
        returned: ``result``, or the reply in place of :data:`PENDING`.

        ``instance``: the instance created or written, whose queued-creation mark is
        cleared if the call fails. ``held``: ``client`` holds a watch
        (:class:`~django_limpyd.aio.transaction.HeldClient`): reads go there too."""
        from django_limpyd.aio.connections import get_read_client
        from django_limpyd.aio.functions import arun
        from django_limpyd.model.reads import ReadCall

        operation = self.single(repr(instance) if instance is not None else "This call")
        await self.send_signals()  # pre_save, pre_delete
        await self.run_deferred(True, (instance,))  # related targets in other slots
        if operation is None:
            return result
        if isinstance(operation, _Steps):  # several round trips, each awaited
            from django_limpyd.aio.unique import arun_steps

            reply = await arun_steps(operation.steps, self.database)
        elif isinstance(operation, _Command):
            if not held and _is_read(operation.args):  # to a replica if the database has some
                client = get_read_client(self.database)
            reply = await client.execute_command(*operation.args, **operation.options)
        else:
            primary = None
            if not held and isinstance(operation, ReadCall):  # a checked read: as a read
                reader = get_read_client(self.database)
                if reader is not client:
                    client, primary = reader, client
            try:
                raw = await arun(operation, client, primary)
            except BaseException:
                if instance is not None and instance.__dict__.get("_queued_creation"):
                    instance._queued_creation = False
                raise
            with self:
                reply = operation.finish(raw)  # post_save, post_delete: deferred
            # settle, pointers to a deleted target (between watch() and multi(): left
            # to check --repair, as in a sync pipeline)
            await self.run_deferred(False, skip=held)
            await self.send_signals()
        await self.run_deferred(False, skip=held)
        return reply if result is PENDING else result


def _instance_of(field: Any) -> Any:
    """The instance ``field`` is bound to (on a foreign key, ``field.instance`` is the
    method giving the target instance: its ``bound_instance``)."""
    return getattr(field, "bound_instance", None) or field.instance


async def run_field_command(field: Any, name: str, args: tuple, kwargs: dict) -> Any:
    """``await field.a<name>(*args, **kwargs)``: the field's sync method ``name``,
    planned by the sync code, sent on the async transport; an instance of a model being
    resharded followed where it moved, and the command sent again (as in sync code:
    :mod:`django_limpyd.aio.reshard`)."""
    try:
        return await _run_field_command(field, name, args, kwargs)
    except (Redirected, DoesNotExist) as error:
        from django_limpyd.aio.apipeline import active
        from django_limpyd.aio.reshard import afollow, follows

        instance = _instance_of(field)
        if not follows(instance, error) or active(field.model._meta.database) is not None:
            raise

        def again() -> Any:
            return _run_field_command(getattr(instance, field.name), name, args, kwargs)

        return await afollow(instance, error, again)


async def _run_field_command(field: Any, name: str, args: tuple, kwargs: dict) -> Any:
    from django_limpyd.aio.connections import get_client

    # a model overriding post_command binds hooked field classes: the hook is called
    # below with the reply, not with PENDING (``_in_command`` skips it meanwhile)
    hooked = bool(getattr(type(field), "_limpyd_post_command", False))
    database = field.model._meta.database
    client = get_client(database)
    state = field.__dict__
    nested = state.get("_in_command", False)
    if hooked:
        state["_in_command"] = True
    try:
        with Capture(database) as capture:
            result = getattr(field, name)(*args, **kwargs)
    finally:
        if hooked and not nested:
            del state["_in_command"]
    instance = _instance_of(field)
    from django_limpyd.aio.apipeline import active

    pipeline = active(database)
    if pipeline is not None and capture.operations:
        # queued: the pipeline, as in sync code, also given to the hook (the reply of a
        # command sent at once, between watch() and multi())
        reply = await pipeline.queue(capture, result=result)
    else:
        try:
            reply = await capture.run(result, client, instance)
        except ResponseError as exc:
            operations = capture.operations
            if not (operations and getattr(operations[0], "operation", "") == "write"):
                raise
            # a command Redis refused (nothing was written): say which field, as sync code
            message = str(exc).split(" script: ")[0]
            raise type(exc)(f"{field.describe()}.{name}(): {message}") from None
    if hooked and not nested and instance is not None:
        return instance.post_command(field, name, reply, args, kwargs)
    return reply
