"""The operations every door calls: web pages, the command line, and the doors to come.

Each operation takes an `Archive` (context.py), checks what it is given, takes the locks
it needs, writes its audit entries and commits or rolls back in one place, so no door can
forget any of that. Doors parse, call and render; they do not import the vault's models,
the key ring or the locks (tests/test_layers.py reads their imports to keep it so).
"""

from archive.services.context import Archive, current, finish

__all__ = ["Archive", "current", "finish"]
