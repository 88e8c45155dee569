"""Mask secret values, and the forms they take when encoded, in text bound for a build log.

A ``Masker`` replaces each secret by ``MASK`` wherever it appears as:

- the value itself (and the value stripped of surrounding whitespace);
- each line of a multi-line value (a PEM key printed line by line), when the line has at
  least ``MIN_LINE_LENGTH`` characters;
- its URL encodings (``quote(v, safe="")`` and ``quote_plus(v)``);
- its quoted and escaped forms: shell (``declare -p``, ``set``, ``printf %q``, ``$'...'``,
  ``shlex.quote``),
  JSON (``json.dumps``, with and without ``ensure_ascii``) and Python (``repr`` and ``ascii``
  of the text and of its UTF-8 bytes, either quote style), as printed between the quotes;
- its standard and URL-safe base64, alone or embedded in a longer base64 text
  (``printf 'user:SECRET' | base64``), on one line or wrapped over several (``base64`` wraps
  at 76 characters, ``openssl base64`` at 64): see "Base64" below.

Values shorter than ``MIN_LENGTH`` characters once stripped (including empty and blank ones)
are ignored: masking ``a`` or ``42`` would mangle every line of the log and protect nothing.

Escape sequences (ANSI colours) are taken out before matching, so ``\\x1b[0m`` in the middle
of a value does not hide it; the escapes inside a masked span go with it, the others stay.

Base64. Embedded at some byte offset in a longer text, a secret's bytes alone decide a run of
base64 characters (its *fragment*, for each of the 3 offsets mod 3 and both alphabets); the
characters at either end that share bits with the neighbouring bytes are left out. A wrapping
tool cuts that run into lines at arbitrary points. So the masker masks, in any line:

- any piece of a fragment of at least ``_SEED`` characters, wherever it is, extended to all
  the characters around it that continue the fragment (a whole wrapped line inside it, or a
  piece of it at a line's start or end);
- at the very start of a line of base64 characters, a piece that ends the fragment, and at the
  very end of one, a piece that starts it, from ``_EDGE`` characters: that is where a wrap cuts,
  and anywhere else such a short piece turns up by chance.

So at most ``_EDGE - 1`` characters (2 bytes of the secret) stay visible at either end of the
wrapped text, whatever the wrap width (76, 64 or any other).

Matching is one regex: every literal form and every ``_SEED``-long piece of every fragment,
alternated as a trie (one branch per first character, so the cost per position does not grow
with the number of forms) and compiled once per set of secrets. A line with no secret costs one
regex search and two dictionary lookups.
"""

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from solvyd.shared.log_text import ANSI_ESCAPE

__all__ = ["MASK", "MIN_LENGTH", "MIN_LINE_LENGTH", "Masker"]

MASK = "***"
MIN_LENGTH = 3
# Lines of a multi-line secret are often structure it shares with ordinary text ("-----",
# "}", "end"): masking those everywhere would blank out unrelated output.
MIN_LINE_LENGTH = 8
# A shorter stable fragment of a base64 text turns up by chance in unrelated output.
_MIN_BASE64_FRAGMENT = 4
# A piece of a fragment this long is masked anywhere: 48 bits of a secret, which a given
# position of unrelated text matches with odds of about 1 in 2.8e14 per piece.
_SEED = 8
# Shorter pieces, down to this length, only where a wrap cuts (start or end of a line of
# base64): 3 characters (18 bits) is all that may show there.
_EDGE = 4
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/_=-]+")
# Characters `printf %q` (bash's backslash quoting) escapes anywhere in a word.
_SHELL_SPECIAL = frozenset(" \t'\"\\|&;()<>!{}*[]?^$`,")
# What bash's $'...' writes for these, and \ooo for the other control characters.
_ANSI_C = {"\\": "\\\\", "'": "\\'", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\E"}
_ANSI_C.update({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"})


class Masker:
    """Replaces every known secret, and its derived forms, by ``MASK``.

    Calling the masker is the same as calling ``mask``. It is false when it masks nothing,
    so callers can skip it.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._fragments: set[str] = set()
        self._matcher: _Matcher | None = None
        for value in values:
            self._forms |= _forms(value)
            self._fragments |= _fragments(value)
        self._compile()

    def add(self, *values: str) -> None:
        """Mask ``values`` too, from now on (a step may mark a value secret while it runs).
        Several at once cost one compilation, which is most of the cost of adding."""
        forms = set().union(*map(_forms, values)) - self._forms
        fragments = set().union(*map(_fragments, values)) - self._fragments
        if forms or fragments:
            self._forms |= forms
            self._fragments |= fragments
            self._compile()

    def mask(self, text: str) -> str:
        matcher = self._matcher
        if matcher is None:
            return text
        if "\x1b" in text:
            return matcher.mask_around_escapes(text)
        spans = matcher.spans(text)
        return _replace(text, spans) if spans else text

    __call__ = mask

    def __bool__(self) -> bool:
        return self._matcher is not None

    def _compile(self) -> None:
        # Assigned in one step, so a concurrent ``mask`` sees the old matcher or the new one.
        self._matcher = _Matcher.build(self._forms, self._fragments) if self._forms else None


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    # Each `_SEED`-long piece of a fragment: the fragments holding it, and where.
    seeds: dict[str, list[tuple[str, int]]]
    # The ends (`_EDGE` to `_SEED - 1` characters) of fragments by their first `_EDGE`
    # characters, and their starts by their last `_EDGE`.
    ends: dict[str, list[str]]
    starts: dict[str, list[str]]

    @classmethod
    def build(cls, forms: set[str], fragments: set[str]) -> "_Matcher":
        seeds: dict[str, list[tuple[str, int]]] = {}
        ends: dict[str, list[str]] = {}
        starts: dict[str, list[str]] = {}
        for fragment in fragments:
            for at in range(len(fragment) - _SEED + 1):
                seeds.setdefault(fragment[at : at + _SEED], []).append((fragment, at))
            for size in range(_EDGE, min(_SEED, len(fragment) + 1)):
                end, start = fragment[-size:], fragment[:size]
                ends.setdefault(end[:_EDGE], []).append(end)
                starts.setdefault(start[-_EDGE:], []).append(start)
        # A piece of a wrapped fragment begins a run of base64 characters (a line, cut there),
        # or ends one and then holds the fragment's start: any seed at a run's start, the first
        # seed of each fragment anywhere, and every literal form anywhere.
        firsts = {fragment[:_SEED] for fragment in fragments}
        pattern = _trie_pattern(forms | firsts)
        if seeds:
            # Forms first: where both match, the alternation takes the first, and a whole form
            # (with its last, partly shared character) is longer than what a seed widens to.
            pattern = f"{pattern}|(?<![A-Za-z0-9+/_-])(?:{_trie_pattern(seeds)})"
        return cls(re.compile(pattern), seeds, ends, starts)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The [start, end) spans of ``text`` to mask, in order, not overlapping."""
        spans: list[tuple[int, int]] = []
        search = self.pattern.search
        seeds = self.seeds
        position = 0
        while (match := search(text, position)) is not None:
            start, end = match.span()
            for fragment, at in seeds.get(text[start : start + _SEED], ()):
                left, right = _widen(text, start, fragment, at)
                start, end = min(start, left), max(end, right)
            _add(spans, start, end)
            position = end
        if self.ends:
            found = len(spans)
            self._wrap_cuts(text, spans)
            if len(spans) != found:
                _merge(spans)
        return spans

    def _wrap_cuts(self, text: str, spans: list[tuple[int, int]]) -> None:
        stop = len(text.rstrip())
        ends = self.ends.get(text[:_EDGE])
        starts = self.starts.get(text[stop - _EDGE : stop])
        if not (ends or starts) or not _BASE64_LINE.fullmatch(text, 0, stop):
            return
        head = max((len(end) for end in ends or () if text.startswith(end)), default=0)
        if head:
            spans.append((0, head))
        tail = max((len(s) for s in starts or () if text.endswith(s, 0, stop)), default=0)
        if tail:
            spans.append((stop - tail, stop))

    def mask_around_escapes(self, text: str) -> str:
        """Match on the text without its escape sequences; mask the original spans (escapes
        inside them included) and keep every escape outside them."""
        spans = self.spans(ANSI_ESCAPE.sub("", text))
        if not spans:
            return text
        # Only now (a secret was found): where each character of the plain text is in `text`.
        origin: list[int] = []
        position = 0
        for escape in ANSI_ESCAPE.finditer(text):
            origin.extend(range(position, escape.start()))
            position = escape.end()
        origin.extend(range(position, len(text)))
        return _replace(text, [(origin[start], origin[end - 1] + 1) for start, end in spans])


def _widen(text: str, seed: int, fragment: str, at: int) -> tuple[int, int]:
    """The span of ``text`` around ``seed`` (where ``fragment[at:]`` starts) that continues
    ``fragment``, if the seed's characters are there."""
    if not text.startswith(fragment[at : at + _SEED], seed):
        return seed, seed
    left, right = seed, seed + _SEED
    offset = at + _SEED
    while right < len(text) and offset < len(fragment) and text[right] == fragment[offset]:
        right += 1
        offset += 1
    offset = at
    while left > 0 and offset > 0 and text[left - 1] == fragment[offset - 1]:
        left -= 1
        offset -= 1
    return left, right


def _add(spans: list[tuple[int, int]], start: int, end: int) -> None:
    if spans and start <= spans[-1][1]:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    else:
        spans.append((start, end))


def _merge(spans: list[tuple[int, int]]) -> None:
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    spans[:] = merged


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    parts: list[str] = []
    position = 0
    for start, end in spans:
        parts.append(text[position:start])
        parts.append(MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts)


# A node: the next characters of the forms through it, and "" when a form ends here.
_Trie = dict[str, "_Trie"]


def _trie_pattern(literals: Iterable[str]) -> str:
    """One regex matching any of ``literals``, the longest at a position. As a trie, since
    Python's engine tries the alternatives of a group one by one: a flat alternation of N
    forms costs N tests per position, the trie about as many as there are distinct first
    characters."""
    root: _Trie = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}
    return _node_pattern(root)


# The engine tests a group's alternatives in order, and a trie's have distinct first characters,
# so trying the characters common in logs first makes a position with no match cheaper.
_COMMON = " etaoinsrhldcumfpgwybvkxjqz_-./:=0123456789ETAOINSRHLDCUMFPGWYBVKXJQZ"


def _by_frequency(item: tuple[str, object]) -> tuple[int, str]:
    rank = _COMMON.find(item[0])
    return (rank if rank >= 0 else len(_COMMON), item[0])


def _node_pattern(node: "_Trie") -> str:
    # Following single-child chains without recursing keeps the depth (Python's and the regex
    # parser's) at the trie's branching depth, not the length of the longest form.
    branches: list[str] = []
    ends_here = False
    for char, child in sorted(node.items(), key=_by_frequency):
        if not char:
            ends_here = True
            continue
        run = [re.escape(char)]
        while len(child) == 1 and "" not in child:
            ((next_char, child),) = child.items()
            run.append(re.escape(next_char))
        if child == {"": {}}:
            branches.append("".join(run))
        else:
            branches.append("".join(run) + _node_pattern(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # Greedy: the longest form wins, so a secret containing another is masked whole.
    return f"(?:{body})?" if ends_here else body


def _forms(value: str) -> set[str]:
    forms: set[str] = set()
    for candidate in {value, value.strip()}:
        if len(candidate.strip()) < MIN_LENGTH:
            continue
        forms.add(candidate)
        forms.add(quote(candidate, safe=""))
        forms.add(quote_plus(candidate))
        forms |= _quoted_forms(candidate)
        forms |= _base64_forms(candidate.encode())
    for line in value.splitlines():
        if len(line.strip()) >= MIN_LINE_LENGTH:
            forms.add(line.strip())
    return forms


def _quoted_forms(value: str) -> set[str]:
    """What stands between the quotes when a shell, JSON or Python prints the value quoted."""
    forms = {
        # bash: `declare -p`, "..." in general
        re.sub(r'([\\"$`])', r"\\\1", value),
        # bash's `set`: '...' with '\'' for a quote; Python's `shlex.quote` writes '"'"'
        value.replace("'", "'\\''"),
        value.replace("'", "'\"'\"'"),
        # `printf %q`, and bash's $'...' for values with control characters
        "".join(f"\\{char}" if char in _SHELL_SPECIAL else char for char in value),
        _ansi_c(value, c_locale=False),
        _ansi_c(value, c_locale=True),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    # Python's repr picks "..." when the value has a ' and no "; with a " added it writes
    # '...' and \' for each quote. Also the bytes (`os.environb`, `subprocess` output).
    data = value.encode()
    forms |= {repr(value)[1:-1], repr(value + '"')[1:-2], ascii(value)[1:-1]}
    forms |= {repr(data)[2:-1], repr(data + b'"')[2:-2]}
    return {form for form in forms if len(form.strip()) >= MIN_LENGTH}


def _ansi_c(value: str, *, c_locale: bool) -> str:
    """The inside of bash's $'...' (for a value with control characters): \\t, \\n, \\ooo for
    the other control characters and, in the C locale, for every byte past ASCII too."""
    if c_locale:
        value = value.encode().decode("latin-1")
    return "".join(
        _ANSI_C.get(char)
        or (f"\\{ord(char):03o}" if ord(char) < 0x20 or (c_locale and ord(char) > 0x7E) else char)
        for char in value
    )


def _base64_forms(data: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(data).decode().rstrip("="))
    forms |= {f for f in _base64_fragments(data) if len(f) >= _MIN_BASE64_FRAGMENT}
    return forms


def _fragments(value: str) -> set[str]:
    """The base64 fragments long enough to be found piece by piece (see "Base64" above)."""
    fragments: set[str] = set()
    for candidate in {value, value.strip()}:
        if len(candidate.strip()) >= MIN_LENGTH:
            fragments |= {f for f in _base64_fragments(candidate.encode()) if len(f) >= _SEED}
    return fragments


def _base64_fragments(data: bytes) -> set[str]:
    fragments: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            # Embedded at byte offset k (mod 3) in a longer text, the encoding of the secret
            # is that of b"\0" * k + data, except the characters sharing bits with the bytes
            # before it (the first ceil(8k / 6)) and with the bytes after it (from
            # floor(8(k + n) / 6) on).
            encoded = encode(b"\0" * offset + data).decode()
            start = -(-8 * offset // 6)
            end = 8 * (offset + len(data)) // 6
            fragments.add(encoded[start:end])
    return fragments
