"""What a call of a compiled library looks like on the wire: ``FCALL`` (``FCALL_RO`` for
reads) on Redis 7, ``EVALSHA`` of the same library as a script on Redis 6.2."""

FUNCTION_CALLS = ("FCALL", "FCALL_RO", "EVALSHA", "EVALSHA_RO")
