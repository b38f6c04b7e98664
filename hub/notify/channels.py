"""How a digest leaves: e-mail over SMTP (smtplib) or a signed webhook (httpx).

Webhook signature (hub.signing, the same for every portalhub webhook): `X-Portalhub-Signature:
sha256=<hex>` is HMAC-SHA256, under the webhook's secret, of the Unix timestamp in
`X-Portalhub-Timestamp`, a dot, and the raw body. A receiver recomputes it (`hub.signing.verify`,
`portalhub webhook verify`), compares in constant time, and refuses old timestamps (replays). The digest id
travels in `X-Portalhub-Digest` (and in the body): a resend after a crash carries the same id, so a
receiver can drop what it already has. E-mails carry the digest id as their Message-ID likewise.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from hub.errors import PortalhubError
from hub.notify.config import SmtpSettings, WebhookTarget
from hub.signing import signed_headers

DIGEST_HEADER = "X-Portalhub-Digest"


class DeliveryError(PortalhubError):
    """A digest could not be delivered now; it is tried again later with the same digest id."""


def post_webhook(
    http: httpx.Client, target: WebhookTarget, secret: str, digest_id: str, body: bytes, now: float
) -> None:
    """POST one digest, signed; anything but a 2xx answer is a DeliveryError."""
    headers = {
        "Content-Type": "application/json",
        **signed_headers(secret, body, now),
        DIGEST_HEADER: digest_id,
        "User-Agent": "portalhub-notify",
    }
    try:
        response = http.post(target.url, content=body, headers=headers, timeout=target.timeout_seconds)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {target.name}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook {target.name} answered HTTP {response.status_code}")


def send_email(
    settings: SmtpSettings,
    password: str | None,
    to: str,
    subject: str,
    text: str,
    digest_id: str,
    now: float,
) -> None:
    """Send one plain-text digest through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(now, usegmt=True)
    message["Message-ID"] = f"<{digest_id}@portalhub>"
    message[DIGEST_HEADER] = digest_id
    message.set_content(text)
    try:
        if settings.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, password or "")
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # smtplib's errors carry the server's reply, never the password we sent.
        raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {type(exc).__name__}: {exc}") from exc
