"""The README documents every command, chat command and setting that exists."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from bot.cli import app
from bot.commands import ADMIN_COMMANDS, GROUP_COMMANDS, TRAINEE_COMMANDS
from bot.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def cli_commands() -> list[str]:
    """Every leaf command, e.g. "content validate", "db upgrade", "run"."""
    names: list[str] = []

    def walk(command: object, prefix: str) -> None:
        sub = getattr(command, "commands", None)
        if not sub:
            names.append(prefix.strip())
            return
        for name, child in sub.items():
            walk(child, f"{prefix} {name}")

    walk(get_command(app), "")
    return names


def test_the_readme_starts_with_the_run_and_test_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["python3 tasks.py run", "python3 tasks.py test"]


def test_every_cli_command_is_in_the_readme() -> None:
    commands = cli_commands()
    assert "run" in commands and "content validate" in commands
    missing = [c for c in commands if f"tweetdrip {c}" not in README]
    assert missing == []


def test_every_cli_command_has_help() -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    for command in cli_commands():
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_every_chat_command_is_in_the_readme() -> None:
    missing = [
        c.name
        for c in TRAINEE_COMMANDS + GROUP_COMMANDS + ADMIN_COMMANDS
        if f"/{c.name}" not in README
    ]
    assert missing == []


def test_every_setting_is_in_the_readme() -> None:
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in README]
    assert missing == []


def test_the_example_env_file_holds_only_known_settings() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8")
    names = re.findall(r"^#?\s*([A-Z_]+)=", example, re.M)
    known = {n.upper() for n in Settings.model_fields} | {"POSTGRES_PASSWORD", "BOT_DOMAIN"}
    assert names and set(names) <= known
