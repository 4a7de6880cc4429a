"""Benchmark notice scheduling over many sealed stories, and the organizer's list of their stories.

Run it from the repository root, with no test suite or other benchmark running:

    .venv/bin/python scripts/bench_notices.py [--stories 50000] [--mine 1000]

Scheduling: an instance with N sealed stories whose embargoes are spread over the next 90
days (rows written straight into the stories table: scheduling reads only control columns, and
sealing 50,000 payloads would time the vault, not the outbox). Timed, through the service as
a door calls it (unit of work, publisher lock, ON CONFLICT inserts): a first run, which arms
every open window (about a third of the stories have at least one), after the outbox is
emptied again each time; and a steady run, which finds everything armed already (what every
minute's run costs). Beside them, the bare query a date-matching cron would run: the three
windows' stories read with sqlite3, nothing written.

The organizer's list: one organizer with M stories sealed through `escrow stories import`; the
time of GET /my/stories through Flask's test client (every title decrypted in memory, the read
audited), against a minimal Flask page rendering a table of M ids from a Jinja template.
Median and p95 in milliseconds, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask, render_template_string
from sqlalchemy import delete, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402  (sibling benchmarks)

from archive import create_app, services  # noqa: E402
from archive.accounts.users import User  # noqa: E402
from archive.cli import cli  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.notices.models import Delivery, Notice  # noqa: E402
from archive.services import notices  # noqa: E402
from archive.storage import database
from archive.vault.models import Story  # noqa: E402
from archive.web import auth  # noqa: E402

EMAIL = "bench@example.org"
TABLE = """<!doctype html><title>minimal</title><table>{% for s in rows %}
<tr><th><a href="/s/{{ s[0] }}">{{ s[0] }}</a></th><td>{{ s[1] }}</td><td>{{ s[2] }}</td></tr>{% endfor %}</table>"""


def invoke(home: Path, args: list[str], stdin: str | None = None) -> str:
    env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", "ESCROW_PASSWORD_COST": "test"}
    result = CliRunner().invoke(cli, args, input=stdin, env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"escrow {args[0]} failed: {result.output}")
    return result.output


def instance(folder: Path, name: str) -> tuple[Path, Config]:
    home = folder / name
    invoke(home, ["init"])
    invoke(home, ["users", "add", EMAIL, "--role", "organizer", "--password-stdin"], stdin="bench-password\n")
    return home, Config.for_home(home, password_cost="test", testing=True)


def bench_scheduling(folder: Path, n: int) -> list[tuple[object, ...]]:
    home, config = instance(folder, "scheduling")
    app = create_app(config)
    now = datetime.now(UTC) - timedelta(seconds=10)
    with app.app_context():
        session = database.db.session()
        owner = session.scalar(select(User.id).where(User.email == EMAIL))
        rows = [{"id": f"bench{i:011d}", "owner_id": owner, "status": "sealed",
                 "embargo_until": now + timedelta(seconds=(i * 7919) % (90 * 86400) + 3600),
                 "redaction_level": "redacted", "release_review": False, "recording_release": "none", "version": 1,
                 "dek_id": "bench", "wrapped_key": b"\0" * 40, "kek_version": 1, "created_at": now, "updated_at": now}
                for i in range(n)]
        for start in range(0, n, 5000):
            session.execute(insert(Story), rows[start:start + 5000])
        session.commit()
        first, steady = [], []
        for _ in range(5):
            session.execute(delete(Delivery))
            session.execute(delete(Notice))
            session.commit()
            begun = time.perf_counter()
            armed = notices.schedule(services.current(), now)
            first.append((time.perf_counter() - begun) * 1000)
        for _ in range(20):
            begun = time.perf_counter()
            again = notices.schedule(services.current(), now)
            steady.append((time.perf_counter() - begun) * 1000)
        assert again.notices == 0
        database.db.session.remove()
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()
    raw = []
    with sqlite3.connect(home / "escrow.db") as conn:
        for _ in range(20):
            begun = time.perf_counter()
            for days in (30, 7, 1):
                window = (f"{now:%Y-%m-%d %H:%M:%S.%f}", f"{now + timedelta(days=days):%Y-%m-%d %H:%M:%S.%f}")
                conn.execute("SELECT id, embargo_until FROM stories WHERE status = 'sealed' AND embargo_until > ? "
                             "AND embargo_until <= ?", window).fetchall()
            raw.append((time.perf_counter() - begun) * 1000)
    base, base95 = statistics.median(raw), p95(raw)
    print(f"scheduling: {n} sealed stories; a first run arms {armed.notices} notices and {armed.deliveries} deliveries")
    return [(f"{what}, ms", len(values), f"{statistics.median(values):.1f}", f"{p95(values):.1f}",
             f"{statistics.median(values) / base:.1f} / {p95(values) / base95:.1f}")
            for what, values in (("first run (arms every open window)", first), ("steady run (nothing new)", steady),
                                 ("raw sqlite3: the three windows' stories", raw))]


def bench_list(folder: Path, m: int) -> list[tuple[object, ...]]:
    home, config = instance(folder, "list")
    corpus = folder / "mine.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for i in range(m):
            out.write(json.dumps({
                "title": f"Testimony {i} of the hotel drive", "narrator": f"Narrator {i}",
                "transcript": ("We met on Thursdays at [[place:the church hall]] and [[person:Maria Lopez]] kept the "
                               "sheets. " * 20), "summary": "A story of the drive.", "language": "en",
                "embargo_until": f"{2030 + i % 20}-01-01", "redaction_level": "pseudonymized"}) + "\n")
    invoke(home, ["stories", "import", str(corpus), "--as", EMAIL])
    app = create_app(config)
    client = app.test_client()
    with app.app_context():
        user = database.db.session.scalar(select(User).where(User.email == EMAIL))
        assert user is not None
        generation, user_id = user.session_generation, user.id
        database.db.session.remove()
    stamp = int(time.time())
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = str(user_id), True
        session[auth.GENERATION], session[auth.SINCE], session[auth.SEEN] = generation, stamp, stamp
    minimal = Flask("minimal")
    table = [(f"story{i:011d}", "sealed", f"{2030 + i % 20}-01-01") for i in range(m)]
    minimal.add_url_rule("/", "page", lambda: render_template_string(TABLE, rows=table))
    plain = minimal.test_client()
    page, base = [], []
    for _warm in range(3):
        client.get("/my/stories")
        plain.get("/")
    for _ in range(30):
        begun = time.perf_counter()
        response = client.get("/my/stories")
        page.append((time.perf_counter() - begun) * 1000)
        if response.status_code != 200 or b"Testimony 7 of the hotel drive" not in response.data:
            raise RuntimeError(f"the list answered {response.status_code} without its titles")
        begun = time.perf_counter()
        plain.get("/")
        base.append((time.perf_counter() - begun) * 1000)
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()
    median, ninety_five = statistics.median(base), p95(base)
    print(f"organizer's list: {m} sealed stories of one organizer, each title decrypted per view")
    return [(f"{what}, ms", len(values), f"{statistics.median(values):.1f}", f"{p95(values):.1f}",
             f"{statistics.median(values) / median:.1f} / {p95(values) / ninety_five:.1f}")
            for what, values in (("GET /my/stories", page), ("minimal Flask table page", base))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=50_000, help="sealed stories to schedule (50000)")
    parser.add_argument("--mine", type=int, default=1_000, help="stories in the organizer's list (1000)")
    args = parser.parse_args()
    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()} | SQLite")
    with tempfile.TemporaryDirectory(prefix="escrow-bench-notices-") as tmp:
        rows = bench_scheduling(Path(tmp), args.stories)
        rows += bench_list(Path(tmp), args.mine)
    print_table(rows)
    print("ratio: to the bare query (scheduling) or the minimal Flask page (list), median / p95")


if __name__ == "__main__":
    main()
