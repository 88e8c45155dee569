"""Text that can be stored and encoded: no lone UTF-16 surrogate, no NUL.

JSON's `\\ud800` escapes, and UTF-8 bytes of surrogates (Python's JSON decoder lets them
pass), decode into Python strings that no UTF-8 encoder writes; PostgreSQL's text holds no
NUL. Such a value passes every schema, and then fails where it is stored or sent on.
"""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def replace_unstorable(text: str) -> str:
    """`text` with each lone surrogate and NUL replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text
