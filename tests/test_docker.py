"""The production files, checked without a Docker engine; and the operator's commands.

No Docker engine runs where these tests run, so the image is never built here. What can be
checked without one is: every file the Dockerfile copies exists and is not excluded from the
build context, the lock file pins exactly what pyproject.toml asks for (and everything those
need), the commands the image and compose.yaml run exist, and the image does not run as root.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import sqlite3
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.emulator import TelegramEmulator
from bot.health import probe
from storage.backup import BackupError, backup_sqlite, sqlite_path
from storage.db import make_engine
from storage.migrate import head_revision, upgrade
from tests.harness import settings_for

ROOT = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    steps = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            steps.append((instruction.upper(), rest.strip()))
    return steps


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (instruction, _) in enumerate(steps) if instruction == "FROM")
    return steps[last_from:]


def ignored_by_dockerignore(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


def cli_command_exists(args: list[str]) -> bool:
    result = CliRunner().invoke(cli, [*args, "--help"])
    return result.exit_code == 0


def locked(*files: str) -> dict[str, str]:
    """Name -> exact version, from the lock files (requirements.lock by default)."""
    pins = {}
    for file in files or ("requirements.lock",):
        for line in (ROOT / file).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, sep, version = line.partition("==")
                assert sep, f"{file}: {line!r} is not pinned with =="
                pins[canonicalize_name(name)] = version
    return pins


# -- the image --------------------------------------------------------------------------


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    copied = []
    for instruction, args in dockerfile():
        if instruction in ("COPY", "ADD") and "--from=" not in args:
            *sources, _target = shlex.split(args)
            copied.extend(s for s in sources if not s.startswith("--"))
    assert {"requirements.lock", "pyproject.toml", "bot", "content", "storage"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
        assert not ignored_by_dockerignore(source), f".dockerignore leaves out {source}"


def test_the_image_is_an_exact_slim_python_3_11_and_runs_as_a_numeric_unprivileged_user() -> None:
    args = dict(
        (a.split("=", 1)[0], a.split("=", 1)[1]) for i, a in dockerfile() if i == "ARG" and "=" in a
    )
    # An exact release (3.11.N on a named Debian), not a tag that moves under the build.
    assert re.fullmatch(
        r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", args["PYTHON_IMAGE"]
    )
    assert [a for i, a in dockerfile() if i == "FROM"] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]
    users = [a for i, a in final_stage() if i == "USER"]
    assert users, "the runtime stage must switch to a user"
    # Numeric uid:gid, so a runtime can verify it is not root without reading /etc/passwd.
    uid, gid = re.fullmatch(r"(\d+):(\d+)", users[-1]).groups()  # type: ignore[union-attr]
    assert int(uid) != 0 and int(gid) != 0
    created = " ".join(" ".join(a.split()) for i, a in final_stage() if i == "RUN")
    assert re.search(rf"groupadd --system --gid {gid} (\w+)", created)
    found = re.search(rf"useradd --system --uid {uid} .*--shell /usr/sbin/nologin (\w+)", created)
    assert found, "the USER must be the account the image creates"
    name = found.group(1)
    assert f"chown {name}:{name} /data" in created  # the volume is the user's to write


def test_the_image_keeps_its_sqlite_database_on_the_data_volume() -> None:
    stage = final_stage()
    env = " ".join(a for i, a in stage if i == "ENV")
    assert "DATABASE_URL=sqlite:////data/tweetdrip.db" in env
    assert ("VOLUME", '["/data"]') in stage
    url = "sqlite:////data/tweetdrip.db"
    assert sqlite_path(url) == Path("/data/tweetdrip.db")


def test_the_image_runs_commands_that_exist() -> None:
    stage = dict(final_stage())
    entrypoint = json.loads(stage["ENTRYPOINT"])
    command = json.loads(stage["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["tweetdrip"] and "tweetdrip" in scripts
    assert cli_command_exists(command), command
    healthcheck = stage["HEALTHCHECK"]
    assert json.loads(healthcheck.split("CMD", 1)[1]) == ["tweetdrip", "health"]
    assert cli_command_exists(["health"])


@pytest.mark.parametrize(
    ("lock_files", "extra"),
    [(["requirements.lock"], None), (["requirements.lock", "requirements-dev.lock"], "dev")],
    ids=["runtime", "dev"],
)
def test_the_lock_files_pin_what_pyproject_asks_for_and_everything_it_needs(
    lock_files: list[str], extra: str | None
) -> None:
    pins = locked(*lock_files)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["optional-dependencies"][extra] if extra else project["dependencies"]
    for spec in wanted:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from {' + '.join(lock_files)}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{' + '.join(lock_files)} has {requirement.name}=={pins[name]}, pyproject wants {spec}"
        )
    # The closure: every requirement of a locked package is locked too (checked with the
    # metadata installed here, for the packages installed here at the locked version).
    checked = 0
    for name, version in pins.items():
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if installed.version != version:
            continue
        checked += 1
        extras = _extras_wanted(name, [*project["dependencies"], *wanted])
        for spec in installed.requires or []:
            requirement = Requirement(spec)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in extras or {""}
            ):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in pins, f"{name} needs {requirement.name}, missing from the locks"
    assert checked >= len(wanted)


def _extras_wanted(name: str, dependencies: list[str]) -> set[str]:
    for spec in dependencies:
        requirement = Requirement(spec)
        if canonicalize_name(requirement.name) == name:
            return set(requirement.extras) | {""}
    return {""}


def test_the_dev_lock_adds_tools_and_changes_nothing_the_image_runs() -> None:
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert dev, "requirements-dev.lock pins the tools of the checks"
    assert set(runtime).isdisjoint(dev), "a package is pinned in both lock files"


def test_compose_migrates_once_then_runs_webhook_bots_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    bot, migrate = services["bot"], services["migrate"]
    assert cli_command_exists(bot["command"]) and bot["command"] == ["run", "--webhook"]
    assert cli_command_exists(migrate["command"]) and migrate["command"] == ["db", "upgrade"]
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert bot["environment"]["WEBHOOK_URL"].startswith("https://")
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["deploy"]["replicas"] >= 2


# -- the package and the development setup ----------------------------------------------


def test_the_package_has_an_spdx_license_and_a_pinned_build_backend() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"  # an SPDX expression, not a table
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    [backend] = [Requirement(spec) for spec in pyproject["build-system"]["requires"]]
    [pin] = list(backend.specifier)
    assert backend.name == "setuptools" and pin.operator == "=="
    assert Version(pin.version) >= Version("77")  # the first to read SPDX `license` strings


def test_every_package_data_pattern_names_files_that_exist() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    for package, patterns in package_data.items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"{package}/{pattern} matches nothing"


def _load_tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tasks_under_test", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tasks_installs_the_locked_versions_and_again_whenever_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = _load_tasks()
    project, venv = tmp_path / "project", tmp_path / "venv"
    project.mkdir()
    inputs = ["pyproject.toml", "requirements.lock", "requirements-dev.lock"]
    for name in inputs:
        (project / name).write_bytes((ROOT / name).read_bytes())
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()  # an existing virtualenv: only the installs run
    for name, value in {
        "ROOT": project,
        "VENV": venv,
        "BIN": venv / "bin",
        "STAMP": venv / ".tasks-stamp",
    }.items():
        monkeypatch.setattr(tasks, name, value)
    commands: list[list[str]] = []
    monkeypatch.setattr(tasks.subprocess, "run", lambda command, check: commands.append(command))

    def installs() -> list[list[str]]:
        commands.clear()
        tasks.ensure_venv()
        return [command[3:] for command in commands]  # after "python -m pip"

    quiet = ["--disable-pip-version-check", "-q"]
    locks = ["-r", str(project / "requirements.lock"), "-r", str(project / "requirements-dev.lock")]
    expected = [
        ["install", *quiet, "--no-deps", *locks],
        ["install", *quiet, "--no-deps", "-e", str(project)],
        ["check", "-q"],
    ]
    assert installs() == expected
    assert installs() == []  # nothing changed
    for name in inputs:
        with (project / name).open("a") as file:
            file.write("\n# changed\n")
        assert installs() == expected, f"a change to {name} must reinstall"
        assert installs() == []


# -- backups ----------------------------------------------------------------------------


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM processedupdate").fetchone()[0])


def _live_database(tmp_path: Path) -> tuple[Path, Engine]:
    path = tmp_path / "live.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as connection:
        for update_id in range(100):
            connection.execute(
                text(
                    "INSERT INTO processedupdate (update_id, processed_at) "
                    "VALUES (:i, '2026-01-05 08:00:00')"
                ),
                {"i": update_id},
            )
    return path, engine


def test_a_backup_of_a_live_database_is_consistent_and_stands_alone(tmp_path: Path) -> None:
    path, engine = _live_database(tmp_path)
    # The bot is in the middle of a write that is not committed yet.
    with engine.connect() as writer:
        writer.execute(
            text("INSERT INTO processedupdate (update_id, processed_at) VALUES (999, '2026-01-05')")
        )
        assert (tmp_path / "live.db-wal").exists()  # the newest pages are in the WAL
        result = backup_sqlite(path, tmp_path / "backups" / "copy.db")
        writer.rollback()
    copy = tmp_path / "backups" / "copy.db"
    assert result.target == copy and result.size_bytes == copy.stat().st_size
    assert _rows(copy) == 100  # committed rows only
    assert not (tmp_path / "backups" / "copy.db-wal").exists()
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert revision == head_revision()
    engine.dispose()


def test_backups_refuse_to_overwrite_and_explain_postgresql(tmp_path: Path) -> None:
    path, engine = _live_database(tmp_path)
    target = tmp_path / "copy.db"
    backup_sqlite(path, target)
    with pytest.raises(BackupError, match="already exists"):
        backup_sqlite(path, target)
    backup_sqlite(path, target, overwrite=True)
    with pytest.raises(BackupError, match="pg_dump"):
        sqlite_path("postgresql://tweetdrip@db/tweetdrip")
    with pytest.raises(BackupError, match="no database"):
        backup_sqlite(tmp_path / "missing.db", tmp_path / "x.db")
    engine.dispose()


def test_the_db_backup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, engine = _live_database(tmp_path)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "backup", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    assert "backed up" in result.output and _rows(tmp_path / "b.db") == 100
    again = runner.invoke(cli, ["db", "backup", str(tmp_path / "b.db")])
    assert again.exit_code == 1 and "already exists" in again.output
    monkeypatch.setenv("DATABASE_URL", "postgresql://tweetdrip@127.0.0.1:1/tweetdrip")
    refused = runner.invoke(cli, ["db", "backup", str(tmp_path / "c.db")])
    assert refused.exit_code == 1 and "pg_dump" in refused.output
    engine.dispose()


# -- health ------------------------------------------------------------------------------


async def test_the_health_command_checks_database_and_telegram_in_polling_mode(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    ok, report = await probe(settings_for(emulator, url))
    assert ok and report["status"] == "ok"
    assert report["telegram"]["detail"] == f"@{emulator.bot.username}"
    broken = settings_for(emulator, "postgresql://nobody@127.0.0.1:1/none")
    ok, report = await probe(broken)
    assert not ok and not report["database"]["ok"] and report["telegram"]["ok"]


async def test_the_health_command_asks_the_webhook_server_when_there_is_one(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    # Nothing listens on this port: the process is down, whatever the database says.
    settings = settings_for(emulator, url, webhook_url="https://bot.example.org/telegram")
    settings.webhook_port = 1
    ok, report = await probe(settings)
    assert not ok and report["status"] == "unavailable"
