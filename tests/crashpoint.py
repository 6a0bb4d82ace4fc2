"""`python -m tests.crashpoint N run ...`: `tweetdrip run ...` that SIGKILLs itself right after
its Nth committed write to the outbox (the `delivery` table), for crash tests that need to
die at one exact step of an installment rather than at a random moment."""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_OUTBOX_WRITE = re.compile(r"\s*(INSERT\s+INTO|UPDATE)\s+delivery\b", re.IGNORECASE)


def kill_after_outbox_writes(count: int) -> None:
    """SIGKILL this process as soon as the `count`th transaction that wrote to the outbox
    has committed."""
    wrote = False
    committed = 0

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal wrote
        if _OUTBOX_WRITE.match(statement):
            wrote = True

    def after_commit(_session: Session) -> None:
        nonlocal wrote, committed
        if wrote:
            wrote = False
            committed += 1
            if committed == count:
                os.kill(os.getpid(), signal.SIGKILL)

    def after_rollback(_session: Session) -> None:
        nonlocal wrote
        wrote = False

    event.listen(Engine, "after_cursor_execute", executed)
    event.listen(Session, "after_commit", after_commit)
    event.listen(Session, "after_rollback", after_rollback)


if __name__ == "__main__":
    kill_after_outbox_writes(int(sys.argv[1]))
    from bot.cli import main

    sys.argv = ["tweetdrip", *sys.argv[2:]]
    main()
