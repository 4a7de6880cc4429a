#!/usr/bin/env python3
"""Release every due story: `escrow publish-due` for cron and systemd timers.

    ARCHIVE_HOME=/srv/escrow/instance /srv/escrow/.venv/bin/python scripts/publish_due.py

Takes the same options as `escrow publish-due` (--now, --dry-run); exits 0 on success
and non-zero with one line on failure; prints one summary line for the log.
"""

from __future__ import annotations

import sys

from archive.cli import cli

if __name__ == "__main__":
    cli.main(args=["publish-due", *sys.argv[1:]], prog_name="publish_due.py")
