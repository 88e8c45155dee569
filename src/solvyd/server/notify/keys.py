"""The keys every rule has, whatever its type, and the check that refuses any other key a
type does not know (a typo would otherwise be silently ignored)."""

import re
from collections.abc import Mapping
from typing import Any

COMMON_KEYS = frozenset({"type", "on", "branches"})
# A secret's name, as the secrets API takes it (protocol.messages.ENV_NAME_PATTERN).
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def unknown_keys(rule: Mapping[str, Any], own: frozenset[str]) -> list[str]:
    """One problem per key that is neither common nor one of the type's `own`."""
    return [
        f"{key}: unknown key for {rule.get('type')} rules"
        for key in sorted(str(key) for key in rule)
        if key not in COMMON_KEYS and key not in own
    ]


def secret_name_problem(rule: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = rule.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 200 or not SECRET_NAME.match(value):
        return f"{key}: must name a secret of the job (letters, digits and _)"
    return None
