"""An attacker's tool, run as its own process by tests: with a copy of master.key and write
access to the database, append an audit entry MACed with the copy's newest audit key, as anyone
holding that copy can (`python -m tests.forgers KEY_FILE ACTOR`; prints the entry's number).

It uses the archive's own chaining code, so the entry is exactly what a writer holding the copy
would write; only the key is the copy's, whatever the chain's head says is in force.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from archive import audit
from archive.config import Config
from archive.vault import keys


def main(argv: list[str]) -> int:
    """Forge one entry: `ACTOR` added an admin account."""
    key_file, actor = Path(argv[0]), argv[1]
    copy = keys.parse(key_file.read_text(encoding="ascii"), "the copy")
    key = copy.audits[copy.audit_version]
    engine = create_engine(Config.from_env().database_url)
    try:
        with Session(engine) as session, session.begin():
            entry = audit.record(session, lambda _version: key, actor, audit.Action.USER_ADD, role="admin")
            seq = entry.seq
    finally:
        engine.dispose()
    print(seq)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
