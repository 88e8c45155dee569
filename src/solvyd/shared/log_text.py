"""Log line hygiene both sides apply: the length limit of one line, text that can be stored,
and ANSI escape stripping."""

import re

from solvyd.shared.text import replace_unstorable

# A longer line is cut here (on a character boundary) and ends with a marker saying so.
MAX_LINE_BYTES = 64 * 1024

# CSI sequences (colours, cursor moves: ESC [ ... final byte), OSC sequences (titles,
# hyperlinks: ESC ] ... BEL or ESC \), and the two-byte escapes.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def cut_long_line(text: str, max_bytes: int = MAX_LINE_BYTES) -> str:
    """`text` unchanged if it fits in `max_bytes` of UTF-8, else its start and a marker,
    together within `max_bytes` (so cutting again, as the server does, changes nothing)."""
    # Fast path: no line of under max_bytes/4 characters can exceed max_bytes.
    if len(text) * 4 <= max_bytes:
        return text
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    marker = f" [solvyd: line cut, it had {len(encoded)} bytes]"
    kept = encoded[: max_bytes - len(marker)].decode("utf-8", errors="ignore")
    return kept + marker


def storable(text: str) -> str:
    """`text` with lone surrogates and NUL as U+FFFD: a log keeps what a step printed as far
    as it can be stored and encoded, where any other field refuses such text (422)."""
    return replace_unstorable(text)


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text) if "\x1b" in text else text


# Every escape sequence (also ESC c, a full reset, and ESC ( B-like nF escapes), a lone ESC,
# and the C0 controls a terminal acts on (not tab or CR).
_TERMINAL_CONTROL = re.compile(
    ANSI_ESCAPE.pattern + r"|\x1b[ -/]*[0-~]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def colours_only(text: str) -> str:
    """`text` with its colour codes (SGR) kept and every other escape or control removed: a
    step's output printed to a user's terminal must not move its cursor, retitle it, write
    to its clipboard (OSC 52) or ring it."""
    if not _TERMINAL_CONTROL.search(text):
        return text
    return _TERMINAL_CONTROL.sub(lambda m: m[0] if _SGR.fullmatch(m[0]) else "", text)
