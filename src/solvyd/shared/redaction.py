"""Mask secret values, and the forms they take when encoded, in text bound for a build log.

A ``Masker`` replaces each secret by ``MASK`` wherever it appears as:

- the value itself (and the value stripped of surrounding whitespace);
- each line of a multi-line value (a PEM key printed line by line), when the line has at
  least ``MIN_LINE_LENGTH`` characters;
- its URL encodings (``quote(v, safe="")`` and ``quote_plus(v)``);
- its standard and URL-safe base64, alone (padding left out) or embedded in a longer base64
  text (``printf 'user:SECRET' | base64``): there only the characters that depend on the
  secret's bytes alone are masked, which is enough that the secret cannot be decoded back.

Values shorter than ``MIN_LENGTH`` characters once stripped (including empty and blank ones)
are ignored: masking ``a`` or ``42`` would mangle every line of the log and protect nothing.

Masking is one ``re.sub`` with an alternation of every form, longest first, so a secret
containing another is masked whole and a line with no secret costs one regex search.
"""

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_LENGTH", "MIN_LINE_LENGTH", "Masker"]

MASK = "***"
MIN_LENGTH = 3
# Lines of a multi-line secret are often structure it shares with ordinary text ("-----",
# "}", "end"): masking those everywhere would blank out unrelated output.
MIN_LINE_LENGTH = 8
# A shorter stable fragment of a base64 text turns up by chance in unrelated output.
_MIN_BASE64_FRAGMENT = 4


class Masker:
    """Replaces every known secret, and its derived forms, by ``MASK``.

    Calling the masker is the same as calling ``mask``. It is false when it masks nothing,
    so callers can skip it.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self._forms |= _forms(value)
        self._compile()

    def add(self, value: str) -> None:
        """Mask ``value`` too, from now on (a step may mark a value secret while it runs)."""
        new = _forms(value) - self._forms
        if new:
            self._forms |= new
            self._compile()

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(MASK, text)

    __call__ = mask

    def __bool__(self) -> bool:
        return self._pattern is not None

    def _compile(self) -> None:
        if not self._forms:
            self._pattern = None
            return
        # Python's alternation takes the first alternative that matches, not the longest:
        # longest first is what masks a secret containing another whole.
        ordered = sorted(self._forms, key=lambda form: (-len(form), form))
        # Assigned in one step, so a concurrent ``mask`` sees the old pattern or the new one.
        self._pattern = re.compile("|".join(map(re.escape, ordered)))


def _forms(value: str) -> set[str]:
    forms: set[str] = set()
    for candidate in {value, value.strip()}:
        if len(candidate.strip()) < MIN_LENGTH:
            continue
        forms.add(candidate)
        forms.add(quote(candidate, safe=""))
        forms.add(quote_plus(candidate))
        forms |= _base64_forms(candidate.encode())
    for line in value.splitlines():
        if len(line.strip()) >= MIN_LINE_LENGTH:
            forms.add(line.strip())
    return forms


def _base64_forms(data: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(data).decode().rstrip("="))
        for offset in range(3):
            # Embedded at byte offset k (mod 3) in a longer text, the encoding of the secret
            # is that of b"\0" * k + data, except the characters sharing bits with the bytes
            # before it (the first ceil(8k / 6)) and with the bytes after it (from
            # floor(8(k + n) / 6) on).
            encoded = encode(b"\0" * offset + data).decode()
            start = -(-8 * offset // 6)
            end = 8 * (offset + len(data)) // 6
            fragment = encoded[start:end]
            if len(fragment) >= _MIN_BASE64_FRAGMENT:
                forms.add(fragment)
    return forms
