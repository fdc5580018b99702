"""Domain errors raised by services; `api/` maps them to 4xx, `web/` to form errors and messages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused operation. `code` is stable for clients; `message` is for people (translated)."""

    code = "invalid"
    status = 400

    def __init__(self, message: Any, *, fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.fields = fields or {}
        if code:
            self.code = code


class NotAllowed(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class RuleViolation(DomainError):
    """A compliance rule refused the action; the message quotes the rule."""

    code = "rule_violation"
    status = 422

    def __init__(self, message: Any, *, rule: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message, fields=fields)
        self.rule = rule


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401


class LockedOut(DomainError):
    code = "locked_out"
    status = 403
