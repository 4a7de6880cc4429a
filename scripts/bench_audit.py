"""The admin's audit page at 10,000 and 100,000 entries: the first view (the whole chain
verified once per process) and later views (only new entries verified, one page read),
against a minimal Flask page that reads the same 100 newest rows, in the same run.

    .venv/bin/python scripts/bench_audit.py [--sizes 10000 100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from archive import audit, create_app, db, users  # noqa: E402
from archive.cli import cli  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.vault import keys  # noqa: E402
from archive.web import auth  # noqa: E402


def fill(home: Path, count: int) -> int:
    """An archive with an admin and `count` audit entries; the admin's id."""
    env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", "ESCROW_PASSWORD_COST": "test"}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    config = Config.for_home(home, password_cost="test")
    app = create_app(config)
    with app.app_context():
        session = db.db.session()
        ring = keys.unlock(session, config)
        admin = users.add(session, "admin@example.org", "admin", "a long enough password")
        for n in range(count - 2):
            audit.record(session, ring.audit_key, "org@example.org", audit.Action.STORY_READ, f"story{n % 5000:011d}")
            if n % 10_000 == 9_999:
                session.commit()
        session.commit()
        admin_id = admin.id
        db.db.session.remove()
        db.db.engine.dispose()
    return admin_id


def timed(get: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = get()  # type: ignore[operator]
        assert response.status_code == 200, response.status_code
        samples.append(time.perf_counter() - start)
    return samples


def measure(size: int, runs: int) -> list[tuple[str, list[float]]]:
    """The page's first and later views, and the bare page, on an archive of `size` entries."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "instance"
        admin_id = fill(home, size)
        app = create_app(Config.for_home(home))
        client = app.test_client()
        now = int(time.time())
        with client.session_transaction() as session:
            session["_user_id"] = str(admin_id)
            session[auth.EPOCH], session[auth.SINCE], session[auth.SEEN] = 0, now, now
        first = timed(lambda: client.get("/admin/audit"), 1)
        later = timed(lambda: client.get("/admin/audit"), runs)
        with app.app_context():
            db.db.engine.dispose()
        app.extensions["escrow.index"].close()

        bare = Flask("bare")
        engine = create_engine(f"sqlite:///{home / 'escrow.db'}")

        @bare.route("/")
        def newest() -> str:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT seq, at, actor, action, story_id, detail FROM audit_log "
                                         "ORDER BY seq DESC LIMIT 100")).all()
            return "".join(f"<tr><td>{r[0]}</td><td>{r[3]}</td></tr>" for r in rows)

        baseline = timed(lambda: bare.test_client().get("/"), runs)
        engine.dispose()
    return [("first view (full verify)", first), ("later views", later), ("bare Flask, same rows", baseline)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    print(f"{'entries':>8}  {'page':<24} {'median ms':>10} {'p95 ms':>8} {'/ bare':>7}")
    for size in options.sizes:
        rows = measure(size, options.runs)
        base = statistics.median(rows[-1][1])
        for name, samples in rows:
            median = statistics.median(samples)
            p95 = sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]
            print(f"{size:>8,}  {name:<24} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {median / base:>7.1f}")


if __name__ == "__main__":
    main()
