"""An XML invoice with its files, as one body: MIME multipart/related, each file named by a Content-ID.

cXML's attachment rule and PIDX's both take this shape: the document is the first (`start`) part and
refers to each file as `cid:<content id>`; each file follows it, base64. The Content-IDs are stable (the
same file gets the same id), so a resend renders the same document. The boundary starts with
`portalhub-` so the hub stores the document without the files (hub/pipeline/submit.py).
"""

from __future__ import annotations

import base64
import email.message
import email.parser
import email.policy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.base import Envelope, OutboundDocument
from hub.errors import MappingError
from hub.model import Attachment

__all__ = ["Part", "boundary_for", "content_ids", "join_parts", "pack", "unpack", "xml_document"]

#: What a file name may keep in a Content-ID or a Content-Disposition header (anything else becomes
#: `_`, so no name can break the header it stands in).
_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Part:
    """One file of a multipart body."""

    content_id: str  # "" where the body names its files by file name only
    filename: str
    content_type: str
    content: bytes = field(repr=False)


def content_ids(attachments: Sequence[Attachment]) -> dict[str, str]:
    """A stable Content-ID per file name (same file, same id: a resend renders the same document)."""
    return {
        a.filename: f"{_FILENAME_SAFE.sub('_', a.filename)}.{a.sha256[:12]}@portalhub" for a in attachments
    }


def pack(
    payload_id: str, xml: bytes, attachments: Sequence[Attachment], ids: dict[str, str], *, xml_type: str
) -> tuple[str, bytes]:
    """(content type, body): the XML alone, or multipart/related with the XML first. `xml_type` is the
    document's media type (`text/xml` for cXML, `application/xml` for PIDX)."""
    xml_content_type = f"{xml_type}; charset=UTF-8"
    if not attachments:
        return xml_content_type, xml
    boundary = boundary_for(payload_id)
    start = f"<{payload_id}>"
    files = [
        Part(ids[a.filename], _FILENAME_SAFE.sub("_", a.filename), a.content_type, a.content)
        for a in attachments
    ]
    body = join_parts(boundary, f"Content-Type: {xml_content_type}\r\nContent-ID: {start}", xml, files)
    content_type = f'multipart/related; boundary="{boundary}"; type="{xml_type}"; start="{start}"'
    return content_type, body


def boundary_for(payload_id: str) -> str:
    """The MIME boundary of one send's body: stable for a payloadID, and starting with `portalhub-`,
    which is how the hub finds where the files begin when it stores the body without them."""
    return "portalhub-" + hashlib.sha256(payload_id.encode()).hexdigest()[:24]


def join_parts(boundary: str, head: str, document: bytes, files: Sequence[Part]) -> bytes:
    """A multipart body: the document first under its `head` (header lines), then each file, base64,
    with its Content-ID where it has one."""
    parts = [f"--{boundary}\r\n{head}\r\n\r\n".encode() + document + b"\r\n"]
    for file in files:
        content_id = f"Content-ID: <{file.content_id}>\r\n" if file.content_id else ""
        parts.append(
            (
                f"--{boundary}\r\nContent-Type: {file.content_type}\r\nContent-Transfer-Encoding: base64\r\n"
                f'Content-Disposition: attachment; filename="{file.filename}"\r\n{content_id}\r\n'
            ).encode()
            + base64.encodebytes(file.content)
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def xml_document(
    envelope: Envelope,
    document_format: str,
    xml: bytes,
    attachments: Sequence[Attachment],
    ids: dict[str, str],
    *,
    xml_type: str,
    secrets: tuple[str, ...] = (),
) -> OutboundDocument:
    """The document to send for this envelope: the XML with its files packed as `pack` does."""
    content_type, body = pack(envelope.payload_id, xml, attachments, ids, xml_type=xml_type)
    return OutboundDocument(
        payload_id=envelope.payload_id,
        invoice_number=envelope.invoice_number,
        format=document_format,
        content_type=content_type,
        body=body,
        xml=xml,
        secrets=secrets,
    )


def unpack(content_type: str, body: bytes) -> tuple[bytes, list[Part]]:
    """The XML and the files of a body made by `pack` (or sent by anyone in that shape)."""
    if not content_type.lower().startswith("multipart/"):
        return body, []
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = list(message.iter_parts()) if isinstance(message, email.message.EmailMessage) else []
    if not parts:
        raise MappingError("the multipart body has no parts")
    xml = parts[0].get_payload(decode=True)
    files = []
    for part in parts[1:]:
        content = part.get_payload(decode=True)
        files.append(
            Part(
                content_id=str(part.get("Content-ID", "")).strip().strip("<>"),
                filename=part.get_filename() or "attachment",
                content_type=part.get_content_type(),
                content=content if isinstance(content, bytes) else b"",
            )
        )
    return (xml if isinstance(xml, bytes) else b""), files
