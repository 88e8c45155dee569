import base64
import json
import os
import random
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from solvyd.shared.log_text import strip_ansi
from solvyd.shared.redaction import MASK, Masker

SECRET = "s3cr3t-Value_42"

Encoder = Callable[[bytes], bytes]
ENCODERS: list[Encoder] = [base64.b64encode, base64.urlsafe_b64encode]


def _decodings(masked: str) -> list[bytes]:
    """Every way to decode what is left of a base64 text once masked: the mask stands for an
    unknown number of characters, so fill it with 0 to 3 "A"s to try every alignment of what
    follows it."""
    decoded = []
    for fill in range(4):
        text = masked.replace(MASK, "A" * fill).rstrip("=").replace("-", "+").replace("_", "/")
        text += "A" * (-len(text) % 4)
        decoded.append(base64.b64decode(text))
    return decoded


def test_the_raw_value_is_masked() -> None:
    assert Masker([SECRET]).mask(f"token={SECRET};") == f"token={MASK};"


def test_every_occurrence_in_a_line_is_masked() -> None:
    masked = Masker([SECRET]).mask(f"{SECRET} and again {SECRET}")
    assert masked == f"{MASK} and again {MASK}"


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = Masker(["abcd", "xxabcdyy"])
    assert masker.mask("1 xxabcdyy 2 abcd") == f"1 {MASK} 2 {MASK}"


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACDmLTs1kQ2c\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )
    masker = Masker([key])
    assert masker.mask(key) == MASK
    for line in key.splitlines():
        assert masker.mask(f"debug: {line}") == f"debug: {MASK}"


@pytest.mark.parametrize("value", ["p@ss word/with&more", "a b+c@d/e&f=g"])
def test_url_encoded_forms_are_masked(value: str) -> None:
    masker = Masker([value])
    for encoded in (quote(value, safe=""), quote_plus(value)):
        assert encoded != value
        masked = masker.mask(f"https://host/login?password={encoded}&next=1")
        assert masked == f"https://host/login?password={MASK}&next=1"


@pytest.mark.parametrize("encode", ENCODERS)
def test_the_base64_of_the_value_is_masked(encode: Encoder) -> None:
    value = "sub?ject>>secret~~"  # gives "+" and "/" in standard base64, "-" and "_" url-safe
    encoded = encode(value.encode()).decode()
    assert Masker([value]).mask(f"header: {encoded}") == f"header: {MASK}"
    assert Masker([value]).mask(f"header: {encoded.rstrip('=')}") == f"header: {MASK}"


@pytest.mark.parametrize("prefix", ["", "u", "us", "use", "user:"])
@pytest.mark.parametrize("suffix", ["", "!", "!!", "!!!"])
@pytest.mark.parametrize("encode", ENCODERS)
def test_the_value_inside_a_longer_base64_text_cannot_be_decoded(
    prefix: str, suffix: str, encode: Encoder
) -> None:
    encoded = encode(f"{prefix}{SECRET}{suffix}".encode()).decode()
    masked = Masker([SECRET]).mask(f"Authorization: Basic {encoded}")
    assert MASK in masked
    for decoded in _decodings(masked.removeprefix("Authorization: Basic ")):
        # Not even most of the secret survives, only a byte at either end at most.
        assert SECRET[1:-1].encode() not in decoded


def test_short_and_blank_values_are_ignored() -> None:
    masker = Masker(["a", "42", "", "   ", " x \n"])
    assert not masker
    assert masker.mask("a 42 x") == "a 42 x"


def test_a_three_character_value_is_masked() -> None:
    assert Masker(["abc"]).mask("xabcx") == f"x{MASK}x"


def test_a_value_added_later_is_masked() -> None:
    masker = Masker([SECRET])
    masker.add("runtime-token-99")
    assert masker.mask(f"{SECRET} runtime-token-99") == f"{MASK} {MASK}"


def test_adding_to_an_empty_masker_makes_it_true() -> None:
    masker = Masker()
    assert not masker
    masker.add(SECRET)
    assert masker
    assert masker(SECRET) == MASK


def test_an_empty_masker_leaves_text_unchanged() -> None:
    masker = Masker([])
    assert not masker
    assert masker.mask("nothing to hide") == "nothing to hide"
    assert masker("nothing to hide") == "nothing to hide"


def test_calling_the_masker_masks() -> None:
    assert Masker([SECRET])(f"x{SECRET}") == f"x{MASK}"


def test_surrounding_whitespace_of_a_value_does_not_hide_it() -> None:
    assert Masker([f"{SECRET}\n"]).mask(f"read {SECRET} from file") == f"read {MASK} from file"


# --- wrapped base64 (`base64` wraps at 76 characters, `openssl base64` at 64) ---

WRAPPERS = {
    "base64": (["base64"], 76),
    "openssl base64": (["openssl", "base64"], 64),
    "base64 -w 0": (["base64", "-w", "0"], 0),
}


def _secret(length: int, seed: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/+=.:@"
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def _secret_positions(prefix: bytes, secret: bytes) -> range:
    """Where, in the base64 of ``prefix + secret + more``, the characters decided by the
    secret's bytes alone are."""
    first_bit, end_bit = 8 * len(prefix), 8 * (len(prefix) + len(secret))
    return range(-(-first_bit // 6), end_bit // 6)


def _shown(line: str, masked: str) -> set[int]:
    """The positions of ``line`` that are still there in ``masked``."""
    pieces = masked.split(MASK)
    shown: set[int] = set()
    position = 0
    for number, piece in enumerate(pieces):
        if number == len(pieces) - 1:
            start = len(line) - len(piece)
        else:
            start = line.find(piece, position) if number else 0
        shown |= set(range(start, start + len(piece)))
        position = start + len(piece)
    return shown


@pytest.mark.parametrize("length", [10, 48, 49, 57, 100, 200])
@pytest.mark.parametrize("prefix", ["", "u", "us", "user:"])
@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_every_line_of_a_wrapped_base64_secret_is_masked(
    length: int, prefix: str, wrapper: str
) -> None:
    command, width = WRAPPERS[wrapper]
    if shutil.which(command[0]) is None and os.environ.get("CI") != "true":
        pytest.skip(f"{command[0]} is not installed")
    for seed in range(5):
        secret = _secret(length, seed)
        data = f"{prefix}{secret}!".encode()
        output = subprocess.run(command, input=data, capture_output=True, check=True).stdout
        lines = output.decode().splitlines()
        assert "".join(lines) == base64.b64encode(data).decode()
        masker = Masker([secret])
        secret_positions = set(_secret_positions(prefix.encode(), secret.encode()))
        for number, line in enumerate(lines):
            offset = number * width
            shown = {i for i in _shown(line, masker(line)) if i + offset in secret_positions}
            # At most the 3 characters (2 bytes) next to where a wrap cut the secret's run.
            assert len(shown) <= 3, (line, masker(line), sorted(shown))
        joined = "".join(masker(line) for line in lines)
        for decoded in _decodings(joined):
            assert secret[2:-2].encode() not in decoded


def test_a_wrapped_base64_line_with_no_secret_is_left_alone() -> None:
    masker = Masker([_secret(100, seed) for seed in range(20)])
    rng = random.Random(7)
    for _ in range(2000):
        line = base64.b64encode(rng.randbytes(57)).decode()
        assert masker(line) == line


# --- quoted and escaped forms ---

QUOTED_SECRETS = [
    'it\'s a "quoted" \\ value',
    "a\"b\\c'd e$f`g\u00e9h",
    "tab\there$HOME and `cmd`",
    "plain-Value_123 with spaces",
]
SHELL_PRINTS = "declare -p S; set | grep -a '^S='; printf '%q\\n' \"$S\"; echo \"${S@Q}\""
PYTHON_PRINTS = (
    "import json, os; s = os.environ['S']; "
    "print(repr(s), json.dumps(s), json.dumps(s, ensure_ascii=False), ascii(s)); "
    "print(repr(s.encode()), {'S': s}, [s]); print(os.environ)"
)


def _printed(command: list[str], secret: str, locale: str) -> list[str]:
    env = {"PATH": os.environ["PATH"], "S": secret, "LC_ALL": locale}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def _pieces(secret: str) -> list[str]:
    """The secret and the parts of it that would give most of it away."""
    return [secret, *(word for word in re.split(r"[\s\"'\\`$]", secret) if len(word) >= 5)]


@pytest.mark.parametrize("secret", QUOTED_SECRETS)
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
@pytest.mark.parametrize("program", ["bash", "python3"])
def test_what_shells_and_python_print_quoted_is_masked(
    secret: str, locale: str, program: str
) -> None:
    command = (
        ["bash", "-c", SHELL_PRINTS] if program == "bash" else ["python3", "-c", PYTHON_PRINTS]
    )
    masker = Masker([secret])
    lines = _printed(command, secret, locale)
    assert lines
    for line in lines:
        masked = masker(line)
        if program == "bash" or "S" in line:
            assert MASK in masked, line
        for piece in _pieces(secret):
            assert piece not in masked, masked


@pytest.mark.parametrize("secret", QUOTED_SECRETS)
def test_json_and_repr_forms_are_masked(secret: str) -> None:
    masker = Masker([secret])
    for form in (json.dumps(secret), repr(secret), shlex.quote(secret), repr(secret.encode())):
        masked = masker(f"form: {form}!")
        for piece in _pieces(secret):
            assert piece not in masked, masked


# --- ANSI escape sequences ---


def test_a_secret_split_by_colour_codes_is_masked() -> None:
    masker = Masker([SECRET])
    line = f"\x1b[31mred\x1b[0m {SECRET[:10]}\x1b[0m{SECRET[10:]} \x1b[1mbold\x1b[0m"
    # The escapes inside the secret go with it; the others stay.
    assert masker(line) == f"\x1b[31mred\x1b[0m {MASK} \x1b[1mbold\x1b[0m"
    assert masker(f"x \x1b[32m{SECRET}\x1b[0m y") == f"x \x1b[32m{MASK}\x1b[0m y"


def test_escapes_of_every_kind_are_seen_through() -> None:
    masker = Masker([SECRET])
    for escape in ("\x1b[1;31m", "\x1b[2K", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1bM"):
        line = f"{SECRET[:5]}{escape}{SECRET[5:]}"
        assert masker(line) == MASK, repr(line)
        assert strip_ansi(masker(f"<{line}>")) == f"<{MASK}>"


def test_the_base64_of_a_secret_split_by_escapes_is_masked() -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    line = f"{encoded[:6]}\x1b[0m{encoded[6:]}"
    assert Masker([SECRET])(line) == MASK


def test_a_line_with_escapes_and_no_secret_is_unchanged() -> None:
    line = "\x1b[32mPASSED\x1b[0m tests/unit/test_x.py"
    assert Masker([SECRET])(line) == line


def test_several_values_are_added_at_once() -> None:
    masker = Masker()
    masker.add("first-added-value", "second-added-value")
    assert masker("first-added-value second-added-value") == f"{MASK} {MASK}"
