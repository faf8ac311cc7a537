"""Reads of a lazily connected instance whose existence is not known yet.

``Model.lazy_connect(pk)`` promises that the first read checks that the instance
exists. That read is one call of the model library's read-only ``read``
function (``FCALL_RO``): the existence check and the command in one round trip;
inside a pipeline it is queued like any command (one round trip per pipeline).
Later reads of the instance are plain commands.

Outside a pipeline the call goes to the database's read connection (a replica when
it has replicas), and to the primary while that replica lacks the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis.exceptions import DataError

from django_limpyd.exceptions import InvalidValue
from django_limpyd.fields.commands import build_command
from django_limpyd.model.writes import FunctionCall
from django_limpyd.storage import functions
from django_limpyd.storage.functions import ScriptError

if TYPE_CHECKING:
    from django_limpyd.model.base import RedisModel

__all__ = ["checked_read"]


class ReadCall(FunctionCall):
    """A call of ``read``: its only error is "this instance does not exist"."""

    __slots__ = ()

    def error(self, error: ScriptError) -> Exception:
        if error.code == "MISSING":
            model = self.model
            return model.DoesNotExist(f"{model.__name__} {self.pk!r} does not exist.")
        return super().error(error)

    def run(self, client: Any = None) -> Any:
        """Send now: on ``client`` if given (a pipeline's, between ``watch()`` and
        ``multi()``: the primary), else on the database's read connection."""
        if client is not None:
            return super().run(client)
        database = self.model._meta.database
        try:
            return functions.call_read_only(
                database.read_connection,
                database.connection,
                self.library,
                self.operation,
                self.keys,
                self.args(self.tmap),
            )
        except ScriptError as error:
            raise self.error(error) from None
        except DataError as error:
            raise InvalidValue(f"{self.model._meta.name}: {error}") from None

    @property
    def pk(self) -> str:
        """The pk of the instance read."""
        return self.args({})[0]


def checked_read(
    instance: RedisModel, target: tuple, name: str, args: tuple, kwargs: dict, now: bool = False
) -> Any:
    """``name`` (a redis-py command method) on ``target`` (the key, ...) of ``instance``,
    checking in the same call that the instance exists (``DoesNotExist`` otherwise).
    Queued while a pipeline is active, unless ``now`` (sent at once all the same).

    Raises redis-py's ``DataError`` for arguments it refuses, before sending.
    """
    model = type(instance)
    meta = model._meta
    command, options = build_command(name, *target, *args, **kwargs)
    options.pop("keys", None)
    callback = functions.reply_callback(str(command[0]).upper())
    pk = instance._pk
    call_args = [pk, command[0], *command[2:]]

    def finish(reply: Any) -> Any:
        instance._exists_checked = True
        return reply if callback is None else callback(reply, **options)

    call = ReadCall(model, "read", [meta.keys.pks, command[1]], lambda tmap: call_args, {}, finish)
    pipeline = None if now else meta.database.active_pipeline()
    if pipeline is None:
        return finish(call.run())
    return pipeline.add_function_call(call)
