"""What a cXML portal sends back: the synchronous `Response` with its `Status`, written by the sandbox's
own code (cXML.dtd 1.2.063 declares Response and Status), and the reading of the Response a
supplier's endpoint gives to a pushed document."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from connectors.sandbox.cxml.document import UnreadableDocument, read_document

CORE_VERSION = "1.2.063"
CORE_DTD_URL = f"http://xml.cxml.org/schemas/cXML/{CORE_VERSION}/cXML.dtd"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def system_id(version: str, filename: str) -> str:
    """The official system id of a cXML DTD (what a DOCTYPE names)."""
    return f"http://xml.cxml.org/schemas/cXML/{version}/{filename}"


def with_doctype(root: etree._Element, dtd_url: str = CORE_DTD_URL) -> bytes:
    body: bytes = etree.tostring(root, encoding="UTF-8")
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + f'<!DOCTYPE cXML SYSTEM "{dtd_url}">\n'.encode() + body
    )


def render_response(code: int, text: str, payload_id: str, timestamp: datetime, detail: str = "") -> bytes:
    """A cXML Response whose Status carries the code, the text attribute and the portal's detail."""
    root = etree.Element("cXML", payloadID=payload_id, timestamp=timestamp.isoformat())
    root.set(XML_LANG, "en-US")
    response = etree.SubElement(root, "Response")
    status = etree.SubElement(response, "Status", code=str(code), text=text)
    status.set(XML_LANG, "en-US")
    if detail:
        status.text = detail
    return with_doctype(root)


def read_response_code(body: bytes) -> int | None:
    """The Status code of a cXML Response, None when the body is not one (the HTTP status decides then)."""
    try:
        document = read_document(body)
    except UnreadableDocument:
        return None
    status = document.root.find("Response/Status")
    if document.root.tag != "cXML" or status is None:
        return None
    try:
        return int(status.get("code", "").strip())
    except ValueError:
        return None
