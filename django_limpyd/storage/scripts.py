"""Lua scripts, loaded once per client and called by name through redis-py ``Script``.

Each ``lua/<name>.lua`` file is one operation; ``lua/lib.lua`` is prepended to
each. redis-py's ``Script`` sends EVALSHA and loads the script on NOSCRIPT (an
EVALSHA that fails with NOSCRIPT executed nothing, so that retry is safe).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from typing import Any

from redis.commands.core import Script
from redis.exceptions import ResponseError

__all__ = [
    "SCRIPTS",
    "ScriptError",
    "load_all",
    "parse_script_error",
    "run_script",
    "script_source",
    "sha_of",
]

#: every operation script (lib.lua is prepended to each)
SCRIPTS = ("collection", "create", "delete", "write")

_LUA = resources.files("django_limpyd.storage") / "lua"


@functools.cache
def script_source(name: str) -> str:
    """The full source of script ``name`` (lib.lua + name.lua)."""
    return (_LUA / "lib.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


class ScriptError(Exception):
    """A ``LIMPYD_<CODE> <json>`` error returned by one of our scripts."""

    def __init__(self, code: str, payload: Any) -> None:
        super().__init__(code, payload)
        self.code = code
        self.payload = payload


@functools.cache
def sha_of(name: str) -> str:
    """The SHA1 Redis knows script ``name`` by."""
    return hashlib.sha1(script_source(name).encode()).hexdigest()


def parse_script_error(error: ResponseError) -> ScriptError | None:
    """Our ``LIMPYD_<CODE>`` error inside a Redis error reply, if it is one."""
    message = str(error)
    start = message.find("LIMPYD_")
    if start < 0:
        return None
    code, _, rest = message[start + len("LIMPYD_") :].partition(" ")
    # Redis may append " script: ..., on @user_script:..." after our JSON
    decoder = json.JSONDecoder()
    try:
        payload, _end = decoder.raw_decode(rest)
    except ValueError:
        payload = rest
    return ScriptError(code, payload)


def _script(client: Any, name: str) -> Script:
    # one Script object per client and script (holds the SHA, loads on NOSCRIPT)
    scripts = client.__dict__.setdefault("_limpyd_scripts", {})
    script = scripts.get(name)
    if script is None:
        script = scripts[name] = Script(client, script_source(name))
    return script


def load_all(client: Any) -> None:
    """SCRIPT LOAD every script on the server of ``client`` in one pipeline."""
    pipe = client.pipeline(transaction=False)
    for name in SCRIPTS:
        pipe.script_load(_script(client, name).script)
    pipe.execute()


def run_script(client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
    """Run script ``name`` on ``client``; our errors come back as :class:`ScriptError`."""
    try:
        return _script(client, name)(keys=keys, args=args, client=client)
    except ResponseError as error:
        parsed = parse_script_error(error)
        if parsed is None:
            raise
        raise parsed from None
