"""MIME multipart bodies as the sandbox portals receive them: an invoice document with its attachments
(multipart/related: cXML, PIDX) or a browser's form (multipart/form-data)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy


def parts(content_type: str, body: bytes) -> list[email.message.EmailMessage]:
    """The parts of a multipart body (none when it has none, or is not multipart)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return list(message.iter_parts()) if isinstance(message, email.message.EmailMessage) else []  # type: ignore[arg-type]


def payload(part: email.message.EmailMessage) -> bytes:
    content = part.get_payload(decode=True)
    return content if isinstance(content, bytes) else b""


def document_and_files(
    content_type: str, body: bytes
) -> tuple[bytes, list[email.message.EmailMessage]] | None:
    """The document (the first part) and the files after it; a plain body is the document alone; None
    for a multipart body without parts."""
    if not content_type.lower().startswith("multipart/"):
        return body, []
    found = parts(content_type, body)
    if not found:
        return None
    return payload(found[0]), found[1:]
