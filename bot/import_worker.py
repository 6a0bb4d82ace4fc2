"""The child process that reads one uploaded file for /import (bot.services.library.read_import).

It reads a pickled `(function, *arguments)` from stdin, calls it, and writes the pickled
result to stdout. Only the bot writes to its stdin, so unpickling that is safe.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    function, *arguments = pickle.load(sys.stdin.buffer)
    pickle.dump(function(*arguments), sys.stdout.buffer)


if __name__ == "__main__":
    main()
