"""Rewrite the initial migration from the models (only before the first release)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from storage.db import make_engine
from storage.migrate import MIGRATIONS, autogenerate

for old in (MIGRATIONS / "versions").glob("*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    autogenerate(make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}"), "initial schema")
