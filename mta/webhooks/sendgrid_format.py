"""The SendGrid-compatible event webhook format: our event payloads in SendGrid's field names,
batched as a JSON array, and the ECDSA P-256 signature SendGrid's verifier helpers check.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
EVENT_NAMES = {"spam_report": "spamreport"}
RENAMED = {
    "event_id": "sg_event_id",
    "message_id": "sg_message_id",
    "machine_open": "sg_machine_open",
}


class SigningKey(msgspec.Struct, frozen=True):
    private_key_pem: str
    public_key: str  # base64 DER SubjectPublicKeyInfo, as SendGrid shows it


def sendgrid_event(payload: dict[str, Any]) -> dict[str, Any]:
    """One of our webhook payloads with SendGrid's names: sg_event_id, sg_message_id, smtp-id,
    category, sg_machine_open, event "spamreport"; custom args stay flattened."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "categories":
            if value:
                out["category"] = value
        elif key == "event":
            out["event"] = EVENT_NAMES.get(value, value)
        elif key == "attempt":
            out["attempt"] = str(value)
        else:
            out[RENAMED.get(key, key)] = value
    if "sg_message_id" in out:
        out.setdefault("smtp-id", f"<{out['sg_message_id']}@scaisend>")
    return out


def sendgrid_body(payloads: list[str]) -> str:
    """The JSON array body for a batch of stored (ScaiSend-format) payloads."""
    events = [sendgrid_event(msgspec.json.decode(payload)) for payload in payloads]
    return msgspec.json.encode(events).decode()


def new_signing_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(private_key_pem=pem, public_key=base64.b64encode(der).decode())


def ecdsa_sign(private_key_pem: str, timestamp: str, body: str) -> str:
    """Base64 DER ECDSA-SHA256 signature over timestamp||body (no separator), as SendGrid."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the webhook signing key is not an EC key")
    signature = key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()
