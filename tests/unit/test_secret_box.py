"""The secret box: AES-256-GCM with a key derived from the server's secret key, a fresh nonce
per value, and each ciphertext bound to the row it was sealed for."""

import uuid

import pytest

from solvyd.server.auth.secret_box import (
    KEY_BYTES,
    NONCE_BYTES,
    VERSION,
    SecretBox,
    SecretBoxError,
    binding,
    derive_key,
)

SERVER_SECRET = "the-server-secret-key-0123456789abcdef"
VALUE = "p@ss word/with+chars\nand a second line"
JOB = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_JOB = uuid.UUID("00000000-0000-4000-8000-000000000002")


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(derive_key(SERVER_SECRET))


def test_a_value_round_trips(box: SecretBox) -> None:
    sealed = box.seal(VALUE, binding(JOB, "DEPLOY_KEY"))
    assert box.open(sealed, binding(JOB, "DEPLOY_KEY")) == VALUE
    unicode = "clé secrète ✓"
    assert box.open(box.seal(unicode, "global/X"), "global/X") == unicode


def test_the_sealed_form_is_version_nonce_ciphertext_and_holds_no_plaintext(
    box: SecretBox,
) -> None:
    sealed = box.seal(VALUE, binding(None, "TOKEN"))
    assert sealed[0] == VERSION
    # The value's bytes plus the 16-byte GCM tag, after the version and nonce.
    assert len(sealed) == 1 + NONCE_BYTES + len(VALUE.encode()) + 16
    assert VALUE.encode() not in sealed
    assert b"p@ss" not in sealed


def test_every_seal_uses_a_fresh_nonce(box: SecretBox) -> None:
    sealed = [box.seal(VALUE, "global/A") for _ in range(200)]
    nonces = {s[1 : 1 + NONCE_BYTES] for s in sealed}
    assert len(nonces) == len(sealed)
    assert len(set(sealed)) == len(sealed)  # the same value never seals the same way twice


@pytest.mark.parametrize("position", [0, 1, 5, 1 + NONCE_BYTES, 1 + NONCE_BYTES + 3, -1])
def test_a_tampered_ciphertext_does_not_open(box: SecretBox, position: int) -> None:
    sealed = bytearray(box.seal(VALUE, "global/A"))
    sealed[position] ^= 0x01
    with pytest.raises(SecretBoxError) as raised:
        box.open(bytes(sealed), "global/A")
    assert VALUE not in str(raised.value)


def test_a_truncated_or_empty_ciphertext_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(VALUE, "global/A")
    for broken in (b"", sealed[:1], sealed[: 1 + NONCE_BYTES + 15], sealed[:-1]):
        with pytest.raises(SecretBoxError):
            box.open(broken, "global/A")


@pytest.mark.parametrize(
    "other_row",
    [
        binding(JOB, "OTHER_NAME"),  # another secret of the same job
        binding(OTHER_JOB, "DEPLOY_KEY"),  # the same name in another job
        binding(None, "DEPLOY_KEY"),  # the global secret of that name
    ],
)
def test_a_ciphertext_copied_to_another_row_does_not_open(box: SecretBox, other_row: str) -> None:
    sealed = box.seal(VALUE, binding(JOB, "DEPLOY_KEY"))
    with pytest.raises(SecretBoxError):
        box.open(sealed, other_row)


def test_another_server_key_does_not_open_it(box: SecretBox) -> None:
    sealed = box.seal(VALUE, "global/A")
    other = SecretBox(derive_key(SERVER_SECRET + "-rotated"))
    with pytest.raises(SecretBoxError):
        other.open(sealed, "global/A")


def test_the_encryption_key_is_derived_and_differs_from_the_server_secret() -> None:
    key = derive_key(SERVER_SECRET)
    assert len(key) == KEY_BYTES
    assert key == derive_key(SERVER_SECRET)  # stable: the same file opens the same secrets
    assert key != SERVER_SECRET.encode()[:KEY_BYTES]
    assert key != derive_key(SERVER_SECRET + "x")


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError):
        SecretBox(b"short")


def test_binding_names_the_scope_and_the_name() -> None:
    assert binding(None, "A") == "global/A"
    assert binding(JOB, "A") == f"{JOB}/A"
