"""`tweetdrip content ...`: validate the library and import exports as YAML drafts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from content.importers import ContentImportError, ImportFormat, import_text
from content.loader import dump_thread_yaml
from content.validate import default_paths, validate_paths

app = typer.Typer(help="Validate the content library and import tweetorials.", no_args_is_help=True)


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to check (default: the bundled library and tracks)."),
    ] = None,
) -> None:
    """Check content files and report every problem as file:line: message."""
    library, problems = validate_paths(paths or default_paths())
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found.", err=True)
        raise typer.Exit(1)
    assert library is not None
    typer.echo(f"OK: {len(library.threads)} thread(s), {len(library.tracks)} track(s).")


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
        str, typer.Option(help="Folder to write one YAML file per thread, or - for stdout.")
    ] = ".",
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Turn an exported thread (Thread Reader, Readwise, X, Typefully) or article into drafts."""
    try:
        report = import_text(file.read_text(encoding="utf-8"), format, source_name=file.name)
    except (ContentImportError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    for note in report.notes:
        typer.echo(note, err=True)
    if output == "-":
        sys.stdout.write("---\n".join(dump_thread_yaml(t) for t in report.threads))
        return
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / f"{t.id}.yaml" for t in report.threads]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        for p in existing:
            typer.echo(f"{p}: already exists; pass --force to overwrite it.", err=True)
        raise typer.Exit(1)
    for thread, target in zip(report.threads, targets, strict=True):
        target.write_text(dump_thread_yaml(thread), encoding="utf-8")
        typer.echo(f"wrote {target} ({len(thread.posts)} posts)")
