"""Sign-in time on the four failing-or-not paths, against one raw argon2 verification.

Unknown email, wrong password, disabled account, right password of a disabled account,
and (for reference) a successful sign-in: each a POST /login through the real app on a
fresh archive in a temporary folder, with the standard argon2 parameters. Every path
should cost one argon2 verification, so their medians should differ by under 10 %;
the raw baseline is `PasswordHasher().verify` on the same hash, in the same run.

    .venv/bin/python scripts/bench_login.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from argon2 import PasswordHasher  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from archive import create_app  # noqa: E402
from archive.accounts import users
from archive.cli import cli  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.storage import database

PASSWORD = "a long enough password"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def timed(run: Callable[[], object], runs: int, prepare: Callable[[], object] | None = None) -> list[float]:
    samples = []
    for _ in range(runs):
        if prepare is not None:
            prepare()  # not timed
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "instance"
        env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", "ESCROW_PASSWORD_COST": ""}
        assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
        for email in ("active@example.org", "disabled@example.org"):
            added = CliRunner().invoke(cli, ["users", "add", email, "--role", "researcher", "--password-stdin"],
                                       input=PASSWORD + "\n", env=env)
            assert added.exit_code == 0, added.output
        app = create_app(Config.for_home(home))
        with app.app_context():
            session = database.db.session()
            disabled = session.scalar(database.db.select(users.User).where(users.User.email == "disabled@example.org"))
            assert disabled is not None
            disabled.active = False
            stored = disabled.password_hash
            session.commit()
            database.db.session.remove()

        state = {"client": app.test_client(), "token": ""}
        visitors = iter(range(1, 60000))

        def fresh() -> None:  # a new visitor, from an address of its own, with the sign-in form's token
            n = next(visitors)
            state["client"] = app.test_client()
            state["client"].environ_base["REMOTE_ADDR"] = f"127.{n // 65536}.{n // 256 % 256}.{n % 256}"  # type: ignore[attr-defined]
            found = TOKEN.search(state["client"].get("/login").get_data(as_text=True))  # type: ignore[attr-defined]
            assert found is not None
            state["token"] = found.group(1)

        def login(email: str, password: str, expect: int) -> Callable[[], object]:
            def run() -> None:
                response = state["client"].post(  # type: ignore[attr-defined]
                    "/login", data={"email": email, "password": password, "csrf_token": state["token"]})
                assert response.status_code == expect, response.status_code
            return run

        hasher = PasswordHasher()
        rows = [("raw argon2 verify (baseline)", timed(lambda: hasher.verify(stored, PASSWORD), runs))]
        for name, email, password, expect in (
                ("unknown email", "nobody@example.org", PASSWORD, 200),
                ("wrong password", "active@example.org", "not it", 200),
                ("disabled account, wrong password", "disabled@example.org", "not it", 200),
                ("disabled account, right password", "disabled@example.org", PASSWORD, 200),
                ("right password (signs in)", "active@example.org", PASSWORD, 302)):
            fresh()
            # Each try from a new address: the failures of one would soon be slowed (services/signing.py).
            rows.append((name, timed(login(email, password, expect), runs, fresh)))
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

    base = statistics.median(rows[0][1])
    failing = [statistics.median(s) for _, s in rows[1:5]]
    print(f"sign-in paths, {runs} runs each, standard argon2id parameters (m=64 MiB, t=3, p=4)")
    print(f"{'path':<36} {'median ms':>10} {'p95 ms':>8} {'/ raw':>6}")
    for name, samples in rows:
        median = statistics.median(samples)
        p95 = sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]
        print(f"{name:<36} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {median / base:>6.2f}")
    print(f"spread of the four failing paths' medians: {(max(failing) - min(failing)) / min(failing):.1%} "
          "(target: under 10%)")


if __name__ == "__main__":
    os.environ.pop("DATABASE_URL", None)
    main()
