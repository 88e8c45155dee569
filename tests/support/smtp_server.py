"""A real SMTP server on loopback (aiosmtpd) for the email notifier's tests: STARTTLS with a
certificate made here (by `cryptography`, for 127.0.0.1 and localhost) and AUTH with one
user, or implicit TLS; every message it accepts lands in `mailbox`.

aiosmtpd runs in a thread of its own, with its own event loop (its `Controller`)."""

import contextlib
import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER = "ci-mailer"
SMTP_PASSWORD = "smtp-pass-Rk7Wq2Zx9"


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    host: str = "127.0.0.1"
    port: int = 0
    ca_file: Path | None = None
    messages: list[Delivered] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    # Whether each message came over TLS.
    encrypted: list[bool] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivered]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} messages arrived")
            time.sleep(0.02)
        return self.messages


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost that is its own CA, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "solvyd test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mailbox.messages.append(
            Delivered(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        )
        self.mailbox.encrypted.append(session.ssl is not None)
        return "250 Message accepted for delivery"


def _authenticator(mailbox: Mailbox) -> Any:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        # handled=False: aiosmtpd answers a refusal itself (535) only when told to.
        return AuthResult(success=ok, handled=ok)

    return authenticate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server(directory: Path, *, implicit_tls: bool = False) -> Iterator[Mailbox]:
    """STARTTLS required and AUTH required (only over TLS), or, with `implicit_tls`, TLS from
    the first byte and AUTH as well."""
    cert, key = make_certificate(directory)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox(ca_file=cert, port=_free_port())
    options: dict[str, Any] = {
        "authenticator": _authenticator(mailbox),
        "auth_required": True,
        "auth_require_tls": True,
    }
    if implicit_tls:
        # The socket speaks TLS only (a plain client gets nowhere), but aiosmtpd does not see
        # its session as TLS and would offer no AUTH if AUTH required TLS (and it warns of
        # AUTH required without TLS): offered, and the test checks the client logged in.
        options |= {"ssl_context": tls, "auth_require_tls": False, "auth_required": False}
    else:
        options |= {"tls_context": tls, "require_starttls": True}
    controller = Controller(
        _Handler(mailbox),
        hostname="127.0.0.1",
        port=mailbox.port,
        server_hostname="localhost",
        **options,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
