"""Secret values encrypted at rest: AES-256-GCM under a key derived from the server's secret key.

A sealed value is ``version (1 byte) | nonce (12 bytes) | ciphertext and GCM tag``. The nonce is
random per value (96 bits: collisions stay negligible far beyond the number of secrets a server
holds). The encryption key is derived with HKDF-SHA256 from the server's secret key
(``SOLVYD_SECRET_KEY`` or ``data_dir/secret-key``) with an ``info`` of its own, so it differs
from the key that signs access tokens even though both come from one secret.

Each value is bound to its row: the associated data is the version byte and
``"<job id or 'global'>/<name>"``, so a ciphertext copied into another secret's row (another
name, another job, or from a job to global) fails to decrypt instead of handing out the wrong
value. Key rotation is not supported yet: changing the server's secret key makes every stored
secret undecryptable (see docs/security.md, "At rest").
"""

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
# HKDF's `info`: what the derived key is for. Another use of the server key gets another info.
KEY_INFO = b"solvyd/secrets/aes-256-gcm/v1"


class SecretBoxError(Exception):
    """A sealed value that cannot be opened: tampered with, bound to another row, sealed under
    another key, or of an unknown format. The message never holds the value."""


def derive_key(server_secret: str) -> bytes:
    """The 256-bit encryption key for secrets, from the server's secret key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=KEY_INFO)
    return hkdf.derive(server_secret.encode())


def binding(job_id: uuid.UUID | None, name: str) -> str:
    """What a secret's ciphertext is bound to: its scope and its name."""
    return f"{job_id or 'global'}/{name}"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a secret box key has {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, value: str, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, value.encode(), _associated(VERSION, bound_to))
        return bytes([VERSION]) + nonce + ciphertext

    def open(self, sealed: bytes, bound_to: str) -> str:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != VERSION:
            raise SecretBoxError("not a sealed secret of a known version")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _associated(sealed[0], bound_to))
        except InvalidTag:
            raise SecretBoxError(
                "the secret does not decrypt: it was changed, moved to another row, "
                "or sealed under another server key"
            ) from None
        return plain.decode()


def _associated(version: int, bound_to: str) -> bytes:
    return bytes([version]) + bound_to.encode()
