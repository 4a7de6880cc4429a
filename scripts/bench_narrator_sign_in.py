"""Narrator sign-in time for a wrong, a revoked and a random codename, against one raw argon2id
hash with the same parameters, in the same run.

Each try is a POST /n through the real app on a fresh archive in a temporary folder, with the
standard argon2 parameters, from an address of its own; the three kinds are interleaved in a
shuffled order (so that a drift of the machine falls on all three alike), and the throttle's
counts are emptied before each try (not timed: this measures the path, not the throttle). A
wrong codename is seven words of the list never issued (a new one each try); a revoked one is a
codename issued, then revoked; a random one is any text. All three should cost one hash and
one read: their medians should differ by less than the runs' own spread (the interquartile
range), and a right codename (for reference) by about its own redirect.

    .venv/bin/python scripts/bench_narrator_sign_in.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from argon2.low_level import Type, hash_secret_raw  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from archive import create_app  # noqa: E402
from archive.accounts import users
from archive.cli import cli  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.storage import database
from archive.vault import narrators  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "instance"
        env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", "ESCROW_PASSWORD_COST": ""}
        invoke = CliRunner().invoke
        assert invoke(cli, ["init"], env=env).exit_code == 0
        assert invoke(cli, ["users", "add", "org@example.org", "--role", "organizer", "--password-stdin"],
                      input="a long enough password\n", env=env).exit_code == 0
        line = home.parent / "s.jsonl"
        line.write_text('{"title": "T", "narrator": "N", "transcript": "t", "summary": "", "interviewer": "",'
                        ' "interview_date": "2019", "place": "", "language": "en", "tags": [],'
                        ' "embargo_until": "2090-01-01", "redaction_level": "redacted"}\n')
        assert invoke(cli, ["stories", "import", str(line), "--as", "org@example.org"], env=env).exit_code == 0
        app = create_app(Config.for_home(home))
        with app.app_context():
            from sqlalchemy import select

            from archive.vault.models import Story
            story_id = database.db.session.scalar(select(Story.id))
            database.db.session.remove()
        issued = invoke(cli, ["narrator", "issue", story_id, "--as", "org@example.org"], env=env)
        revoked = issued.stdout.strip()
        assert invoke(cli, ["narrator", "revoke", story_id, "--as", "org@example.org"], env=env).exit_code == 0
        right = invoke(cli, ["narrator", "issue", story_id, "--as", "org@example.org"], env=env).stdout.strip()

        words = narrators.words("en")
        typed = {
            "wrong codename": lambda: " ".join(secrets.choice(words) for _ in range(7)),
            "revoked codename": lambda: revoked,
            "random text": lambda: "".join(secrets.choice(string.printable) for _ in range(random.randint(1, 80))),
            "right codename (signs in)": lambda: right,
        }
        expect = {"right codename (signs in)": 302}
        samples: dict[str, list[float]] = {name: [] for name in typed}
        order = [name for name in typed for _ in range(runs)]
        random.shuffle(order)
        for n, name in enumerate(order):
            with app.app_context():  # the throttle's counts emptied: not timed
                database.db.session.execute(database.db.text("DELETE FROM sign_in_failures"))
                database.db.session.commit()
                database.db.session.remove()
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
            token = TOKEN.search(client.get("/n").get_data(as_text=True))
            assert token is not None
            text = typed[name]()
            start = time.perf_counter()
            response = client.post("/n", data={"codename": text, "csrf_token": token.group(1)})
            samples[name].append(time.perf_counter() - start)
            assert response.status_code == expect.get(name, 200), (name, response.status_code)

        hasher = users.HASHERS["standard"]
        salt = os.urandom(16)
        raw = []
        for _ in range(runs):
            start = time.perf_counter()
            hash_secret_raw(b"abacus abdomen abide", salt, time_cost=hasher.time_cost, memory_cost=hasher.memory_cost,
                            parallelism=hasher.parallelism, hash_len=32, type=Type.ID)
            raw.append(time.perf_counter() - start)
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

    base = statistics.median(raw)
    print(f"narrator sign-in (POST /n), {runs} tries each, interleaved; standard argon2id parameters "
          f"(m={hasher.memory_cost // 1024} MiB, t={hasher.time_cost}, p={hasher.parallelism})")
    print(f"{'path':<30} {'median ms':>10} {'p95 ms':>8} {'IQR ms':>8} {'/ raw':>6}")
    for name, found in [("raw argon2id hash (baseline)", raw), *samples.items()]:
        median = statistics.median(found)
        p95 = sorted(found)[max(0, round(0.95 * len(found)) - 1)]
        q = statistics.quantiles(found, n=4)
        print(f"{name:<30} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {(q[2] - q[0]) * 1000:>8.1f} "
              f"{median / base:>6.2f}")
    failing = [samples[name] for name in ("wrong codename", "revoked codename", "random text")]
    medians = [statistics.median(s) for s in failing]
    spreads = [statistics.quantiles(s, n=4) for s in failing]
    iqr = min(q[2] - q[0] for q in spreads)
    print(f"largest difference between the three failing medians: {(max(medians) - min(medians)) * 1000:.2f} ms; "
          f"smallest interquartile range among them: {iqr * 1000:.2f} ms "
          f"({'within' if max(medians) - min(medians) < iqr else 'OUTSIDE'} the noise)")


if __name__ == "__main__":
    os.environ.pop("DATABASE_URL", None)
    main()
