"""Start-up time of the `escrow` command, against a bare click command and the bare libraries.

Each row runs a command in a new process, as cron or an operator does, on a demo archive
made in a temporary folder (`escrow demo --no-serve`: a few released stories): `--help`,
`--version`, `publish-due --check`, `search QUERY`. The baselines run in the same period:
a bare click group's `--help` (the least a command line costs) and a bare import of the
libraries a command that opens the archive needs (Flask-SQLAlchemy, Whoosh, numpy). Each
command is run once unmeasured first, with its bytecode written under the temporary folder
(PYTHONPYCACHEPREFIX), so the times are an installed archive's, not a first run's.

    .venv/bin/python scripts/bench_startup.py [--runs 10] [--escrow OTHER/.venv/bin/escrow ...]

`--escrow` adds the rows of another installation (another checkout's virtualenv), on a demo
archive of its own, to compare before and after in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(sys.executable).parent / "escrow"
COMMANDS = (["--help"], ["--version"], ["publish-due", "--check"], ["search", "strike"])
BARE_CLICK = ("import click\n@click.group()\ndef cli():\n    'A group.'\n@cli.command()\ndef one():\n    'One.'\n"
              "cli(['--help'])")
BARE_LIBRARIES = "import flask_sqlalchemy, sqlalchemy.orm, whoosh.index, numpy"


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=False)  # bytecode written, not timed
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
        if done.returncode not in (0, 2) or b"escrow:" in done.stderr:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-300:]}")
    return samples


def environment(folder: Path, name: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONDONTWRITEBYTECODE", "DATABASE_URL", "ESCROW_MASTER_KEY")}
    env.update(ARCHIVE_HOME=str(folder / name / "instance"), PYTHONPYCACHEPREFIX=str(folder / name / "pycache"),
               ESCROW_PASSWORD_COST="test")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--escrow", action="append", default=[], type=Path,
                        help="Another installation's escrow script, measured in the same run.")
    options = parser.parse_args()
    installs = [HERE, *options.escrow]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        rows: list[tuple[str, str, list[float]]] = []
        python = sys.executable
        bare = environment(folder, "bare")
        rows.append(("bare click group --help", "", timed([python, "-c", BARE_CLICK], bare, options.runs)))
        rows.append(("bare import of the libraries", "", timed([python, "-c", BARE_LIBRARIES], bare, options.runs)))
        for number, escrow in enumerate(installs):
            env = environment(folder, f"install{number}")
            made = subprocess.run([str(escrow), "demo", "--no-serve"], env=env, capture_output=True, check=False)
            if made.returncode != 0:
                raise SystemExit(f"{escrow} demo failed: {made.stderr.decode()[-300:]}")
            for command in COMMANDS:
                rows.append((f"escrow {' '.join(command)}", str(escrow.parent.parent.parent.name),
                             timed([str(escrow), *command], env, options.runs)))
    click_base = statistics.median(rows[0][2])
    libraries = statistics.median(rows[1][2])
    print(f"start-up of a new process, {options.runs} runs each (median, p95 in ms; / click: against the bare "
          "click group; / libs: against the bare import of the libraries)")
    print(f"{'command':<32} {'checkout':<12} {'median':>7} {'p95':>7} {'/ click':>8} {'/ libs':>7}")
    for name, install, samples in rows:
        median = statistics.median(samples)
        p95 = sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]
        print(f"{name:<32} {install:<12} {median * 1000:>7.0f} {p95 * 1000:>7.0f} {median / click_base:>8.2f} "
              f"{median / libraries:>7.2f}")


if __name__ == "__main__":
    main()
