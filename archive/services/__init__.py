"""The operations every door calls: web pages, the command line, and the doors to come.

Each operation takes an `Archive` (context.py), checks what it is given and opens one unit
of work (archive/storage/units.py) that takes the locks it needs, holds its audit entries, commits
or rolls back, and runs the effects registered around that, so no door can forget any of
it. Doors parse, call and render; they do not import the vault's models, the key ring or the
locks (tests/test_layers.py reads their imports to keep it so).
"""

from archive.services.context import Archive, current, finish

__all__ = ["Archive", "current", "finish"]
