"""How portalhub signs what it POSTs to other systems (AR status events, notification digests), and how
a receiver checks it. One scheme for every webhook, so one receiver recipe and one `portalhub webhook
verify` serve them all (docs/ar-adapters.md).

Two headers: `X-Portalhub-Timestamp: <unix seconds>` and `X-Portalhub-Signature: sha256=<hex>`, the
HMAC-SHA256 under the shared secret of the timestamp, a dot and the raw body. The timestamp is inside
the signature, so a captured request cannot be sent again later under a fresh one: receivers refuse
timestamps outside a replay window and deduplicate on the event's (or digest's) id.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Portalhub-Signature"
TIMESTAMP_HEADER = "X-Portalhub-Timestamp"
#: How far from its own clock a receiver should accept a timestamp (seconds): the replay window.
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """A signature that does not verify; the message says why (never the secret)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Portalhub-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """Both headers for `body` sent now."""
    timestamp = int(now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str, body: bytes, timestamp: str, signature: str, now: float, tolerance: float = DEFAULT_TOLERANCE
) -> int:
    """Check the two headers against the raw body; returns the timestamp or raises SignatureError."""
    stamp = timestamp.strip()
    if not stamp.isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} is not unix seconds: {timestamp[:40]!r}")
    sent_at = int(stamp)
    if not signature.strip().startswith("sha256="):
        raise SignatureError(f"{SIGNATURE_HEADER} is not sha256=<hex>")
    if abs(now - sent_at) > tolerance:
        raise SignatureError(
            f"the timestamp is {abs(now - sent_at):.0f} s away from now (window {tolerance:.0f} s): "
            "a replayed or delayed request, or a clock that is off"
        )
    if not hmac.compare_digest(sign(secret, sent_at, body), signature.strip()):
        raise SignatureError("the signature does not match the body under this secret")
    return sent_at
