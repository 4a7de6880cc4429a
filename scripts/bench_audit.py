"""The admin's audit page at 10,000 and 100,000 entries: the first view (the whole chain
verified once per process) and later views (only new entries verified, one page read),
against a minimal Flask page that reads the same 100 newest rows, in the same run; and
`escrow audit verify`'s whole-chain check against bare HMAC-SHA256 over the same rows. The
keys are rotated halfway, so the chain switches audit keys once.

    .venv/bin/python scripts/bench_audit.py [--sizes 10000 100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from archive import audit, create_app, services  # noqa: E402
from archive.accounts import users
from archive.cli import cli  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.services import audit_log  # noqa: E402
from archive.storage import database
from archive.vault import keys  # noqa: E402
from archive.web import auth  # noqa: E402


def fill(home: Path, count: int) -> tuple[int, str]:
    """An archive with an admin and `count` audit entries, rotated halfway; the admin's id and
    session generation."""
    env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", "ESCROW_PASSWORD_COST": "test"}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    config = Config.for_home(home, password_cost="test")
    app = create_app(config)
    with app.app_context():
        session = database.db.session()
        admin_id = users.add(session, "admin@example.org", "admin", "a long enough password").id
        session.commit()
        for half in (count // 2 - 3, count - count // 2 - 3):
            ring = keys.unlock(session, config)
            for n in range(half):
                audit.record(session, ring.audit_key, "org@example.org", audit.Action.STORY_READ,
                             f"story{n % 5000:011d}")
                if n % 10_000 == 9_999:
                    session.commit()
            session.commit()
            if half == count // 2 - 3:
                database.db.session.remove()
                assert CliRunner().invoke(cli, ["keys", "rotate"], env=env).exit_code == 0
                session = database.db.session()
        found = session.get(users.User, admin_id)
        assert found is not None
        generation = found.session_generation
        database.db.session.remove()
        database.db.engine.dispose()
    return admin_id, generation


def timed(call: Callable[[], object], runs: int) -> list[float]:
    """Seconds each of `runs` calls took."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def page(client: FlaskClient, path: str) -> None:
    """Get a page, which must answer 200."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code


def measure(size: int, runs: int) -> list[tuple[str, list[float]]]:
    """The page's first and later views and the bare page, the whole chain's check and bare
    HMAC, on an archive of `size` entries."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "instance"
        admin_id, generation = fill(home, size)
        app = create_app(Config.for_home(home))
        client = app.test_client()
        now = int(time.time())
        with client.session_transaction() as session:
            session["_user_id"] = str(admin_id)
            session[auth.GENERATION], session[auth.SINCE], session[auth.SEEN] = generation, now, now
        first = timed(lambda: page(client, "/admin/audit"), 1)
        later = timed(lambda: page(client, "/admin/audit"), runs)
        with app.app_context():
            archive = services.current()
            whole = timed(lambda: audit_log.verify(archive), runs)
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

        bare = Flask("bare")
        engine = create_engine(f"sqlite:///{home / 'escrow.db'}")

        @bare.route("/")
        def newest() -> str:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT seq, at, actor, action, story_id, detail FROM audit_log "
                                         "ORDER BY seq DESC LIMIT 100")).all()
            return "".join(f"<tr><td>{r[0]}</td><td>{r[3]}</td></tr>" for r in rows)

        baseline = timed(lambda: page(bare.test_client(), "/"), runs)
        key = hashlib.sha256(b"any key").digest()

        def bare_hmac() -> None:
            with engine.connect() as conn:
                for row in conn.execute(text("SELECT seq, at, actor, action, story_id, detail, prev_hash "
                                             "FROM audit_log ORDER BY seq")):
                    hmac.new(key, json.dumps([str(v) for v in row], separators=(",", ":")).encode(),
                             hashlib.sha256).hexdigest()

        bare_verify = timed(bare_hmac, runs)
        engine.dispose()
    return [("first view (full verify)", first), ("later views", later), ("bare Flask, same rows", baseline),
            ("audit verify (chain)", whole), ("bare HMAC, same rows", bare_verify)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    print(f"{'entries':>8}  {'page':<24} {'median ms':>10} {'p95 ms':>8} {'/ bare':>7}")
    for size in options.sizes:
        rows = measure(size, options.runs)
        for index, (name, samples) in enumerate(rows):
            base = statistics.median(rows[2 if index < 3 else 4][1])
            median = statistics.median(samples)
            p95 = sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]
            print(f"{size:>8,}  {name:<24} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {median / base:>7.1f}")


if __name__ == "__main__":
    main()
