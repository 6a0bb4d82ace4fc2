"""`tweetdrip content validate | import | export | new`, as an educator uses them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from content.cli import app
from content.loader import bundled_library, dump_thread_yaml
from content.validate import parse_thread_file
from tests.test_authoring import GUIDE_EXAMPLE


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_a_folder_of_markdown_and_yaml_threads_validates(tmp_path: Path) -> None:
    (tmp_path / "reading-head-ct.md").write_text(GUIDE_EXAMPLE, encoding="utf-8")
    thread, _ = parse_thread_file("ct-yaml.md", GUIDE_EXAMPLE)
    assert thread is not None
    (tmp_path / "ct-yaml.yaml").write_text(dump_thread_yaml(thread), encoding="utf-8")

    result = run("validate", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 2 thread(s), 0 track(s).\n"


def test_a_path_without_threads_is_an_error_not_ok(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = run("validate", str(empty))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{empty}: no thread or track files in this folder (.yaml, .yml or .md); check the path",
        "1 problem(s) found.",
    ]
    assert "OK" not in result.stdout


def test_an_export_given_to_validate_is_sent_to_import(tmp_path: Path) -> None:
    export = tmp_path / "thread.md"
    export.write_text("# Thread by @jane\n\n1/ First tweet\n\n2/ Second\n", encoding="utf-8")
    text = tmp_path / "unroll.txt"
    text.write_text("1/ First tweet\n", encoding="utf-8")

    result = run("validate", str(export), str(text))

    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{export}:1: this looks like an export, not a thread in the authoring format (numbered "
        "posts `1/ ...` after a `---` front matter block, see docs/authoring.md); run "
        f"`tweetdrip content import {export}` to turn it into a thread",
        f"{text}: this is not a content file: a thread is a .yaml file or a .md file in the "
        "authoring format (docs/authoring.md); to turn an export into a thread, run "
        f"`tweetdrip content import {text}`",
    ]


def test_export_writes_a_library_thread_as_markdown_that_reads_back_the_same() -> None:
    result = run("export", "csf-leak-blood-patch", "--format", "markdown")

    assert result.exit_code == 0, result.output
    thread, problems = parse_thread_file("csf-leak-blood-patch.md", result.stdout)
    assert problems == []
    assert thread == bundled_library().threads["csf-leak-blood-patch"]


def test_export_turns_a_markdown_file_into_yaml_and_back(tmp_path: Path) -> None:
    source = tmp_path / "reading-head-ct.md"
    source.write_text(GUIDE_EXAMPLE, encoding="utf-8")
    target = tmp_path / "out" / "reading-head-ct.yaml"
    target.parent.mkdir()

    to_yaml = run("export", str(source), "--format", "yaml", "--output", str(target))
    back = run("export", str(target), "--format", "markdown")

    assert to_yaml.exit_code == 0 and back.exit_code == 0, to_yaml.output + back.output
    original = parse_thread_file(source.name, GUIDE_EXAMPLE)[0]
    assert parse_thread_file("back.md", back.stdout)[0] == original
    again = run("export", str(source), "--format", "yaml", "--output", str(target))
    assert again.exit_code == 1
    assert f"{target}: already exists; pass --force to overwrite it." in again.stderr


def test_export_of_an_unknown_thread_lists_the_library() -> None:
    result = run("export", "no-such-thread")

    assert result.exit_code == 1
    assert "no-such-thread: no such thread file, and no thread with this id" in result.stderr
    assert "csf-leak-blood-patch" in result.stderr


def test_new_scaffolds_a_markdown_thread_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "head-ct.md"

    made = run("new", "head-ct", "--title", "Reading a head CT", "--output", str(target))
    checked = run("validate", str(target))

    assert made.exit_code == 0, made.output
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("OK: 1 thread(s), 0 track(s), ")
    text = target.read_text(encoding="utf-8")
    assert "title: Reading a head CT\n" in text and "TODO" in text
    assert run("validate", "--strict", str(target)).exit_code == 1  # the TODOs are left
    assert run("new", "head-ct", "--output", str(target)).exit_code == 1  # no overwrite


def test_new_refuses_an_id_that_is_not_a_slug(tmp_path: Path) -> None:
    result = run("new", "Head CT", "--output", str(tmp_path / "x.md"))

    assert result.exit_code == 2
    assert "`Head CT` is not a thread id" in result.stderr and "`head-ct`" in result.stderr


def test_import_passes_a_markdown_thread_through_with_its_quiz(tmp_path: Path) -> None:
    source = tmp_path / "reading-head-ct.md"
    source.write_text(GUIDE_EXAMPLE, encoding="utf-8")

    result = run("import", str(source), "--output", str(tmp_path / "drafts"))

    assert result.exit_code == 0, result.output
    written = tmp_path / "drafts" / "reading-head-ct.yaml"
    thread, problems = parse_thread_file(written.name, written.read_text(encoding="utf-8"))
    assert problems == [] and thread is not None
    assert len(thread.posts) == 2 and len(thread.quiz) == 1  # not split, quiz not swallowed
    assert thread == parse_thread_file(source.name, GUIDE_EXAMPLE)[0]


def test_import_reports_a_broken_markdown_thread_at_its_lines(tmp_path: Path) -> None:
    source = tmp_path / "reading-head-ct.md"
    source.write_text(GUIDE_EXAMPLE.replace("- [x] It is", "- [ ] It is"), encoding="utf-8")

    result = run("import", str(source), "--output", "-")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{source}:16: question why-is-acute-blood-bright-on-ct: no correct option given; mark "
        "the right option with `- [x]`"
    ]


def test_import_can_write_an_export_in_the_markdown_format(tmp_path: Path) -> None:
    export = tmp_path / "unroll.txt"
    export.write_text(
        "Thread by @janedoe\n1/ Blood is bright on CT.\n2/ Because it is dense.\n",
        encoding="utf-8",
    )

    result = run("import", str(export), "--to", "markdown", "--output", "-")

    assert result.exit_code == 0, result.output
    thread, problems = parse_thread_file("draft.md", result.stdout)
    assert problems == [] and thread is not None
    assert [p.text for p in thread.posts] == ["Blood is bright on CT.", "Because it is dense."]


def test_export_converts_a_file_whatever_its_name(tmp_path: Path) -> None:
    source = tmp_path / "csf.md"
    source.write_text("---\nid: csf-leak-blood-patch\n" + GUIDE_EXAMPLE[4:], encoding="utf-8")
    track = tmp_path / "csf.yaml"
    track.write_text("id: csf\ntitle: CSF\nthreads: [csf-leak-blood-patch]\n", encoding="utf-8")

    converted = run("export", str(source), "--format", "yaml")
    refused = run("export", str(track))

    assert converted.exit_code == 0, converted.output
    assert "id: csf-leak-blood-patch\n" in converted.stdout
    assert refused.exit_code == 1
    assert "this is a track (it lists `threads:`), not a thread" in refused.stderr
