"""Free text from people and other programs (who, why, notes): what may be stored, and how it
is cleaned. Pure: no I/O, no database.

The rule. A character is *hostile* when it is

- a C0 control other than TAB, LF and CR (U+0000-U+001F; NUL among them: PostgreSQL refuses it
  in text and JSON, so one NUL in a reason used to roll back a whole emergency stop),
- DEL or a C1 control (U+007F-U+009F),
- an unpaired surrogate (U+D800-U+DFFF: not a character at all; UTF-8 cannot encode it, so no
  database, log file or terminal can take it), or
- a bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069): they make an
  audit line read differently from what it holds ("ops" + RLO + "txt.exe").

``clean_text`` is what the manual controls (halt, resume, emergency stop, close all, the mode)
apply inside ``helios.trading_state`` and ``helios.commands``, so the API, the CLI, the console
and notebooks all store the same cleaned text: an emergency stop must never fail on the text
that came with it. Hostile characters become U+FFFD (visible: the record shows that something
was there), a surrogate pair left split in two code points is joined first, line breaks and tabs
become a space (a record is one line: no forged log or status lines), the ends are trimmed and
the length is bounded (``limit`` characters, the last one "…" when cut). Everything else is
kept: letters of any script, emoji (with their joiners), marks. Cleaning is idempotent.

``hostile_character`` is what the other entry points refuse with (the API's 422 naming the
field): text that is neither an emergency control nor ours to repair is refused, not altered.
"""

from __future__ import annotations

from dataclasses import dataclass

REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"
# who did something: the width of the actor columns (events.actor, settings.updated_by)
NAME_LIMIT = 120
# why, a note: bounded so one request cannot fill the event log
TEXT_LIMIT = 1000

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\u2028\u2029")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


@dataclass(frozen=True)
class Hostile:
    """The first hostile character of a text: where it is and what it is."""

    position: int
    character: str

    def describe(self) -> str:
        return f"U+{ord(self.character):04X} at position {self.position}"


def is_hostile(character: str) -> bool:
    """Whether one code point is hostile (see the module's rule)."""
    code = ord(character)
    if code < 0x20:
        return character not in _ALLOWED_CONTROLS
    return 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or character in _BIDI_CONTROLS


def hostile_character(value: str) -> Hostile | None:
    """The first hostile character of ``value``, or None when it may be stored as it is."""
    for position, character in enumerate(value):
        if is_hostile(character):
            return Hostile(position, character)
    return None


def _join_surrogate_pairs(value: str) -> str:
    """A high and a low surrogate side by side are one character split in two: join them."""
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_text(value: str, *, limit: int) -> str:
    """``value`` safe to store and show: hostile characters replaced by U+FFFD, line breaks
    and tabs by a space, trimmed, at most ``limit`` characters (cut ones end in "…").

    '' when nothing visible is left: the caller decides whether that is allowed."""
    if not isinstance(value, str):
        raise TypeError(f"clean_text takes a str, not {type(value).__name__}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    joined = _join_surrogate_pairs(value)
    cleaned = "".join(
        " " if c in _LINE_BREAKS else REPLACEMENT if is_hostile(c) else c for c in joined
    ).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + ELLIPSIS
    return cleaned
