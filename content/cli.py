"""`tweetdrip content ...`: validate, import, export and start threads."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from content.authoring import dump_thread_markdown, scaffold_markdown, slugify
from content.importers import ContentImportError, ImportFormat, import_text
from content.loader import dump_thread_yaml
from content.models import ID_MAX, Thread
from content.validate import (
    CONTENT_SUFFIXES,
    default_paths,
    is_thread_file,
    parse_thread_file,
    validate_paths,
)

app = typer.Typer(
    help="Validate, import, export and start content: threads in YAML or Markdown, and tracks.",
    no_args_is_help=True,
)


class FileFormat(enum.StrEnum):
    markdown = "markdown"
    yaml = "yaml"


SUFFIX = {FileFormat.markdown: ".md", FileFormat.yaml: ".yaml"}


def _dump(thread: Thread, form: FileFormat) -> str:
    return dump_thread_markdown(thread) if form is FileFormat.markdown else dump_thread_yaml(thread)


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Thread files (.yaml, .md), track files or folders (default: the bundled "
            "library and tracks)."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Treat quality warnings as errors (exit 1 on any).")
    ] = False,
) -> None:
    """Check content files: every problem as file:line: message, and quality warnings."""
    library, problems = validate_paths(paths or default_paths(), lint=True)
    for problem in problems:
        typer.echo(str(problem), err=True)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors or (strict and warnings):
        found = f"{errors} problem(s)" + (f" and {warnings} warning(s)" if warnings else "")
        strictly = " (--strict counts warnings as problems)" if strict and warnings else ""
        typer.echo(f"{found} found{strictly}.", err=True)
        raise typer.Exit(1)
    assert library is not None
    tail = f", {warnings} warning(s) (--strict makes them errors)" if warnings else ""
    typer.echo(f"OK: {len(library.threads)} thread(s), {len(library.tracks)} track(s){tail}.")


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="The export to import.", exists=True, dir_okay=False)
    ],
    format: Annotated[
        ImportFormat,
        typer.Option(
            help="Input format: auto (detect), threadreader (Thread Reader App page text), "
            "readwise (Obsidian or Logseq), readwise-csv, thread-text (plain text or "
            "Typefully draft), x-archive (data/tweets.js), x-page (copied from x.com), "
            "markdown."
        ),
    ] = ImportFormat.auto,
    output: Annotated[
        str, typer.Option(help="Folder to write one file per thread, or - for stdout.")
    ] = ".",
    to: Annotated[
        FileFormat, typer.Option(help="Write the drafts as YAML or in the Markdown format.")
    ] = FileFormat.yaml,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Turn an exported thread (Thread Reader, Readwise, X, Typefully) or article into drafts.

    Drafts are YAML by default. A thread already written in the Markdown authoring format
    (or as YAML) is checked and converted as it is, quiz and all.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    if format in (ImportFormat.auto, ImportFormat.markdown) and is_thread_file(file.name, text):
        thread, problems = parse_thread_file(str(file), text)
        for problem in problems:
            typer.echo(str(problem), err=True)
        if thread is None:
            raise typer.Exit(1)
        typer.echo(f"{file}: already a thread file; converting it as it is", err=True)
        threads = [thread]
    else:
        try:
            report = import_text(text, format, source_name=file.name)
        except ContentImportError as exc:
            typer.echo(f"{file}: {exc}", err=True)
            raise typer.Exit(1) from None
        for note in report.notes:
            typer.echo(note, err=True)
        threads = list(report.threads)
    _write(threads, to, output, force, separator="---\n" if to is FileFormat.yaml else "\n")


def _write(
    threads: list[Thread], form: FileFormat, output: str, force: bool, separator: str = "\n"
) -> None:
    if output == "-":
        sys.stdout.write(separator.join(_dump(t, form) for t in threads))
        return
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / f"{t.id}{SUFFIX[form]}" for t in threads]
    _refuse_existing(targets, force)
    for thread, target in zip(threads, targets, strict=True):
        target.write_text(_dump(thread, form), encoding="utf-8")
        typer.echo(f"wrote {target} ({len(thread.posts)} posts, {len(thread.quiz)} questions)")


def _refuse_existing(targets: list[Path], force: bool) -> None:
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        for p in existing:
            typer.echo(f"{p}: already exists; pass --force to overwrite it.", err=True)
        raise typer.Exit(1)


def _find_thread(name: str) -> Thread:
    """A thread file's thread, or the bundled library's thread with that id."""
    path = Path(name)
    if path.suffix.lower() in CONTENT_SUFFIXES and path.is_file():
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"{path}: cannot read this file: {exc}", err=True)
            raise typer.Exit(1) from None
        # A file being converted need not be named after its id, as a library file must.
        thread, problems = parse_thread_file(str(path), text)
        for problem in problems:
            typer.echo(str(problem), err=True)
        if thread is None:
            raise typer.Exit(1)
        return thread
    library, problems = validate_paths(default_paths())
    if library is None:
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1)
    if name in library.threads:
        return library.threads[name]
    ids = ", ".join(library.threads)
    typer.echo(
        f"{name}: no such thread file, and no thread with this id in the library ({ids})",
        err=True,
    )
    raise typer.Exit(1)


@app.command()
def export(
    thread: Annotated[
        str, typer.Argument(help="A thread id of the bundled library, or a thread file.")
    ],
    format: Annotated[
        FileFormat, typer.Option(help="markdown (the authoring format) or yaml.")
    ] = FileFormat.markdown,
    output: Annotated[str, typer.Option(help="File to write, or - for stdout.")] = "-",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a thread as Markdown or YAML; reading it back gives the same thread."""
    found = _find_thread(thread)
    text = _dump(found, format)
    if output == "-":
        sys.stdout.write(text)
        return
    target = Path(output)
    _refuse_existing([target], force)
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")


@app.command()
def new(
    thread_id: Annotated[
        str | None,
        typer.Argument(
            metavar="ID",
            help="The thread's id (lowercase words joined by hyphens); default: from the title.",
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="The title trainees see.")] = None,
    author: Annotated[str | None, typer.Option(help='The author, as "Name (@handle)".')] = None,
    output: Annotated[
        str | None, typer.Option(help="File to write (default: ID.md here), or - for stdout.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Start a thread in the Markdown authoring format, with TODO where words are needed."""
    chosen = thread_id or slugify(title or "", ID_MAX) or "my-tweetorial"
    if slugify(chosen, ID_MAX) != chosen:
        example = slugify(chosen, ID_MAX) or "ct-basics"
        typer.echo(
            f"`{chosen}` is not a thread id: use lowercase letters and digits joined by "
            f"hyphens, at most {ID_MAX} characters, e.g. `{example}`",
            err=True,
        )
        raise typer.Exit(2)
    text = scaffold_markdown(chosen, title, author)
    if output == "-":
        sys.stdout.write(text)
        return
    target = Path(output or f"{chosen}.md")
    _refuse_existing([target], force)
    target.write_text(text, encoding="utf-8")
    typer.echo(
        f"wrote {target}: replace each TODO, then check it with "
        f"`tweetdrip content validate {target}`"
    )
