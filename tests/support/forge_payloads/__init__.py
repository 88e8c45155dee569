"""Webhook requests as each forge sends them: headers and JSON bodies shaped like the forges'
documented examples (each module names its source), with the values a test needs put in.
`Request.body` is the exact bytes that are signed and sent."""

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

ZERO = "0" * 40


@dataclass
class HookRequest:
    forge: str
    headers: dict[str, str]
    payload: dict[str, Any]
    body: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.body = json.dumps(self.payload).encode()

    def with_payload(self, payload: dict[str, Any]) -> "HookRequest":
        return HookRequest(self.forge, dict(self.headers), payload)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign(request: HookRequest, secret: str) -> HookRequest:
    """The request with the forge's signature (or token) header for `secret`."""
    headers = dict(request.headers)
    if request.forge == "github":
        headers["X-Hub-Signature-256"] = "sha256=" + hmac_hex(secret, request.body)
    elif request.forge == "gitea":
        headers["X-Gitea-Signature"] = hmac_hex(secret, request.body)
    elif request.forge == "gitlab":
        headers["X-Gitlab-Token"] = secret
    elif request.forge == "bitbucket":
        headers["X-Hub-Signature"] = "sha256=" + hmac_hex(secret, request.body)
    signed = HookRequest(request.forge, headers, request.payload)
    signed.body = request.body
    return signed


def new_delivery_id() -> str:
    return str(uuid.uuid4())
