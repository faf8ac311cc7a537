"""Internal: the only code that knows key names, Lua scripts and atomic writes."""
