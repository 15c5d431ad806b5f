"""Errors Helios raises on purpose.

Every error about bad input names the field, the value it got and what is allowed, so a person
reading a log line, a notebook traceback or a dashboard message knows what to change.
"""

from __future__ import annotations

from typing import Any


class HeliosError(Exception):
    """Base class of every error Helios raises deliberately."""


class InvalidInput(HeliosError, ValueError):
    """A caller passed a value outside what the function accepts; nothing was written."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (a sweep's worker process raises it to the parent): rebuilt with its
        field, value and allowed, and the attributes of a subclass (``signal_id``) restored."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("field", "value", "allowed")}
        return (_rebuild_invalid_input, (type(self), self.field, self.value, self.allowed, state))


def _rebuild_invalid_input(
    kind: type[InvalidInput], field: str, value: Any, allowed: str, state: dict[str, Any]
) -> InvalidInput:
    error = kind.__new__(kind)
    InvalidInput.__init__(error, field, value, allowed)
    error.__dict__.update(state)
    return error


class ConfigError(HeliosError):
    """The configuration (environment, .env or connect() overrides) is invalid.

    ``problems`` holds one (KEY, value, allowed) triple per bad key.
    """

    def __init__(self, problems: list[tuple[str, Any, str]]) -> None:
        self.problems = problems
        lines = [f"{key}={value!r}: {allowed}" for key, value, allowed in problems]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))


class NotYetAvailable(HeliosError, NotImplementedError):
    """A part of the facade that a later issue builds."""

    def __init__(self, what: str, issue: int) -> None:
        super().__init__(f"{what} is not built yet (tracked in issue #{issue})")


class Fenced(HeliosError):
    """This process was leading, and another scheduler has taken over (a newer fencing epoch):
    nothing more may be written or sent as leader. Raised by a fenced write before it changes
    anything."""
