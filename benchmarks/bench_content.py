"""Time loading and validating a library of 1,000 realistic threads (goal: under 1 s).

Run: .venv/bin/python benchmarks/bench_content.py [--threads 1000] [--repeat 3]

Each generated thread has about 12 posts (tweet-sized, some with two paragraphs and an
image), about 8 quiz questions with 3-5 options and an explanation, and two references,
written with `dump_thread_yaml` exactly as an import would write them; ten tracks list
the threads. The best of `--repeat` runs is reported, after one warm-up run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import yaml

from content.loader import dump_thread_yaml
from content.models import Author, Post, QuizQuestion, Reference, Source, Thread
from content.validate import check_files, collect_files, parse_file, paused_gc, validate_paths

GOAL_SECONDS = 1.0
VOCABULARY = (
    "csf leak epidural blood patch fibrin nerve root sleeve ventral dorsal foramen needle "
    "contrast myelography thecal sac pressure headache osteophyte dura puncture lumbar "
    "targeted transforaminal interlaminar fluoroscopy volume compression symptom "
    "regression the a of to in and with for on is that by be at from"
)
WORDS = VOCABULARY.split()


def _sentence(rng: random.Random, n_words: int) -> str:
    words = rng.choices(WORDS, k=n_words)
    return " ".join(words).capitalize() + "."


def make_thread(index: int, rng: random.Random) -> Thread:
    """Build one thread of realistic size."""
    thread_id = f"bench-thread-{index:04d}"
    n_posts = rng.randint(10, 14)
    posts = []
    for p in range(1, n_posts + 1):
        text = f"{p}/{_sentence(rng, rng.randint(25, 40))}"
        if rng.random() < 0.3:
            text += "\n" + _sentence(rng, rng.randint(8, 15))
        media = [f"https://pbs.twimg.com/media/{thread_id}-{p}.jpg"] if rng.random() < 0.6 else []
        posts.append(
            Post(text=text, media=media, url=f"https://twitter.com/teach/status/{index}{p:03d}")
        )
    quiz = []
    for q in range(1, rng.randint(6, 10) + 1):
        n_options = rng.randint(3, 5)
        quiz.append(
            QuizQuestion(
                id=f"q{q}",
                question=_sentence(rng, rng.randint(10, 20))[:-1] + "?",
                options=[f"{o}. {_sentence(rng, rng.randint(2, 6))}" for o in range(n_options)],
                correct=[rng.randrange(n_options)],
                explanation=_sentence(rng, rng.randint(12, 22))[:180],
                after_post=rng.randint(1, n_posts),
                source_post=rng.randint(1, n_posts),
            )
        )
    return Thread(
        id=thread_id,
        title=_sentence(rng, 6),
        author=Author(name="Teach Play Grub", handle="@teachplaygrub"),
        source=Source(
            url=f"https://twitter.com/teach/status/{index}",
            kind="tweetorial",
            imported_from="benchmark",
        ),
        tags=["neuroradiology", "spine", f"topic-{index % 17}"],
        posts=posts,
        quiz=quiz,
        references=[
            Reference(title=_sentence(rng, 8), url=f"https://doi.org/10.0000/{index}-{r}")
            for r in range(2)
        ],
    )


def write_library(root: Path, n_threads: int, seed: int = 20220826) -> list[Path]:
    """Write `n_threads` thread files and ten tracks under `root`; return the two folders."""
    rng = random.Random(seed)
    library, tracks = root / "library", root / "tracks"
    library.mkdir()
    tracks.mkdir()
    ids = []
    for index in range(n_threads):
        thread = make_thread(index, rng)
        (library / f"{thread.id}.yaml").write_text(dump_thread_yaml(thread), encoding="utf-8")
        ids.append(thread.id)
    for t in range(10):
        track = {"id": f"bench-track-{t}", "title": f"Track {t}", "threads": ids[t::10]}
        (tracks / f"bench-track-{t}.yaml").write_text(yaml.safe_dump(track), encoding="utf-8")
    return [library, tracks]


def measure(paths: list[Path]) -> dict[str, float]:
    """Time one load: parse (read + YAML), validate (models, rules, library) and end to end."""
    with paused_gc():  # as validate_paths and load_library do
        start = time.perf_counter()
        files, problems = collect_files(paths)
        parsed = [parse_file(f) for f in files]
        parsed_at = time.perf_counter()
        library, found = check_files(parsed)
        checked_at = time.perf_counter()
    if problems or found or library is None:
        raise SystemExit("the generated library does not validate:\n" + "\n".join(map(str, found)))

    total_start = time.perf_counter()
    library, found = validate_paths(paths)
    total = time.perf_counter() - total_start
    assert library is not None and not found
    return {
        "files": float(len(files)),
        "parse": parsed_at - start,
        "validate": checked_at - parsed_at,
        "total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tweetdrip-bench-") as tmp:
        paths = write_library(Path(tmp), args.threads)
        size_mb = sum(f.stat().st_size for f in paths[0].iterdir()) / 1e6
        measure(paths)  # warm-up: imports, pydantic schema build, file cache
        runs = [measure(paths) for _ in range(args.repeat)]

    best = min(runs, key=lambda r: r["total"])
    loader = "CSafeLoader (libyaml)" if hasattr(yaml, "CSafeLoader") else "SafeLoader (pure)"
    print(f"YAML loader: {loader}; library size: {size_mb:.1f} MB")
    print(f"{'threads':>8} {'files':>6} {'parse s':>8} {'validate s':>10} {'total s':>8}")
    print(
        f"{args.threads:>8} {int(best['files']):>6} {best['parse']:>8.3f} "
        f"{best['validate']:>10.3f} {best['total']:>8.3f}"
    )
    verdict = "met" if best["total"] < GOAL_SECONDS else "MISSED"
    print(f"goal: total < {GOAL_SECONDS:.1f} s ({verdict}; best of {args.repeat})")


if __name__ == "__main__":
    main()
