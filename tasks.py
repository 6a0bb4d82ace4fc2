#!/usr/bin/env python3
"""Bootstrap a virtualenv and run tweetdrip or its checks, with nothing but Python installed.

python3 tasks.py run            # the bot (any tweetdrip command works: sandbox, db upgrade, ...)
python3 tasks.py test           # lint, type-check and the whole test suite

The virtualenv (.venv) holds exactly the versions in requirements.lock and
requirements-dev.lock, reinstalled whenever one of them or pyproject.toml changes.
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
# The exact versions the image runs (requirements.lock) and the checks ran with
# (requirements-dev.lock): a fresh machine installs these, never whatever is newest.
LOCKS = ("requirements.lock", "requirements-dev.lock")


def _inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", *LOCKS):
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create the virtualenv; install the locked versions when pyproject.toml or a lock changed."""
    digest = _inputs_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print(f"creating a virtualenv in {VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the locked dependencies and tweetdrip ...", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # --no-deps: the locks are complete (tests/test_docker.py checks it), so nothing is resolved
    # afresh; `pip check` below proves they fit together.
    locks = [arg for lock in LOCKS for arg in ("-r", str(ROOT / lock))]
    subprocess.run([*pip, "--no-deps", *locks], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "check", "-q"], check=True)
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
