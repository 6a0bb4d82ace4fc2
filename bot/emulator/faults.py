"""Scripted failures: make the next matching Bot API calls fail the way Telegram can."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Fault", "FaultKind", "FaultPlan"]

FaultKind = Literal["flood", "forbidden", "bad_request", "server_error", "timeout", "bad_media"]

_KINDS: frozenset[str] = frozenset(
    ("flood", "forbidden", "bad_request", "server_error", "timeout", "bad_media")
)
_MEDIA_METHODS = frozenset(("sendphoto", "senddocument", "sendmediagroup"))
# A fault without a method never hits these: they are plumbing, not sending.
_PLUMBING = frozenset(
    ("getupdates", "getme", "setwebhook", "deletewebhook", "getwebhookinfo", "close", "logout")
)


@dataclass(slots=True)
class Fault:
    """One scripted failure; ``remaining`` counts down as matching calls consume it.

    ``times=None`` means "every matching call until removed".
    """

    kind: FaultKind
    method: str | None = None
    chat_id: int | str | None = None
    remaining: int | None = 1
    retry_after: int = 1
    description: str | None = None
    status: int = 500
    delay: float = 10.0
    apply: bool = False
    hits: int = 0

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        lowered = method.lower()
        if self.method is not None:
            if self.method.lower() != lowered:
                return False
        elif lowered in _PLUMBING or (self.kind == "bad_media" and lowered not in _MEDIA_METHODS):
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id

    def error(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and Telegram error body for this fault (not for ``timeout``)."""
        if self.kind == "flood":
            body: dict[str, Any] = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
            return 429, body
        if self.kind == "forbidden":
            text = self.description or "Forbidden: bot was blocked by the user"
            return 403, {"ok": False, "error_code": 403, "description": text}
        if self.kind == "bad_request":
            text = self.description or "Bad Request: injected failure"
            return 400, {"ok": False, "error_code": 400, "description": text}
        if self.kind == "bad_media":
            text = self.description or "Bad Request: wrong file identifier/HTTP URL specified"
            return 400, {"ok": False, "error_code": 400, "description": text}
        text = self.description or "Internal Server Error"
        return self.status, {"ok": False, "error_code": self.status, "description": text}


class FaultPlan:
    """The queue of scripted failures, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        chat_id: int | str | None = None,
        kind: FaultKind = "server_error",
        times: int | None = 1,
        retry_after: int = 1,
        *,
        description: str | None = None,
        status: int = 500,
        delay: float = 10.0,
        apply: bool = False,
    ) -> Fault:
        """Make the next ``times`` calls matching ``method``/``chat_id`` fail with ``kind``.

        - ``flood``: 429 with ``parameters.retry_after`` (PTB raises ``RetryAfter``).
        - ``forbidden``: 403 (``Forbidden``), default "bot was blocked by the user".
        - ``bad_request``: 400 (``BadRequest``) with ``description``.
        - ``server_error``: ``status`` 500 with a JSON body, or 502 with an HTML page
          like Telegram's front end (``NetworkError`` either way).
        - ``timeout``: hold the response ``delay`` seconds; give the client a shorter read
          timeout to see ``TimedOut``. With ``apply=True`` the action still happens
          (Telegram may deliver a message whose request timed out).
        - ``bad_media``: 400 "wrong file identifier/HTTP URL specified" for media sends.

        ``method=None`` matches every method except getUpdates and webhook plumbing.
        """
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for unlimited)")
        fault = Fault(
            kind=kind,
            method=method,
            chat_id=chat_id,
            remaining=times,
            retry_after=retry_after,
            description=description,
            status=status,
            delay=delay,
            apply=apply,
        )
        self._faults.append(fault)
        return fault

    def take(self, method: str, params: dict[str, Any]) -> Fault | None:
        """The first fault matching this call, consuming one of its uses."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.matches(method, params):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def remove(self, fault: Fault) -> None:
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return list(self._faults)

    def __len__(self) -> int:
        return len(self._faults)
