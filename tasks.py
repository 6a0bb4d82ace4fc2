#!/usr/bin/env python3
"""Bootstrap a virtualenv and run tweetdrip or its checks, with nothing but Python installed.

python3 tasks.py run            # the bot (any tweetdrip command works: sandbox, db upgrade, ...)
python3 tasks.py test           # lint, type-check and the whole test suite
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("TWEETDRIP_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".tasks-stamp"


def ensure_venv() -> None:
    """Create the virtualenv and install the project when pyproject.toml changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print(f"creating a virtualenv in {VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing tweetdrip and its dependencies ...", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def run(*command: str) -> int:
    return subprocess.call(command, cwd=ROOT)


def test(args: list[str]) -> int:
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
    ]
    for step in steps:
        print("$", " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
        if code := run(*step):
            return code
    return run(str(BIN / "python"), "-m", "pytest", *args)


def main(argv: list[str]) -> int:
    ensure_venv()
    if argv[:1] == ["test"]:
        return test(argv[1:])
    return run(str(BIN / "tweetdrip"), *(argv or ["run"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
