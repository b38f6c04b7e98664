"""Pre-flight: everything an invoice must pass before it may be sent.

1. the field rules of its profile on the canonical invoice;
2. the document rules (XPath) on the document as the connector renders it;
3. the document's own schema, when its file is configured: the cXML DTD (InvoiceDetail.dtd) or the
   official PIDX 1.61 Invoice XSD (`cxml_dtd`, `pidx_xsd` in portalhub.yaml).

The document is rendered with a placeholder secret and payloadID: pre-flight never needs the real
credentials, so AR operations can validate on a laptop without them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from connectors.base import Connector, Envelope, OutboundDocument
from hub.errors import ConfigError, MappingError
from hub.model import Invoice, RejectionCategory, Violation
from rules import engine
from rules.documents import SchemaError, schema_errors
from rules.schema import Profile

PLACEHOLDER_SECRET = "preflight-placeholder"


class PlaceholderSecrets:
    """Resolves every reference to a placeholder: rendered documents for checks only, never sent."""

    def resolve(self, reference: str) -> str:
        return PLACEHOLDER_SECRET


class DocumentSchemas:
    """Schema checks per document format. The DTD and the XSD are loaded once per process and shared;
    validation is serialised, because an lxml DTD or XMLSchema object must not validate on two threads
    at once (and an XMLSchema takes long to build, so it is never built per document)."""

    def __init__(self, cxml_dtd: Path | None = None, pidx_xsd: Path | None = None):
        self.cxml_dtd_path = cxml_dtd
        self.pidx_xsd_path = pidx_xsd
        self._dtd: etree.DTD | None = None
        self._lock = threading.Lock()

    def _cxml(self) -> etree.DTD | None:
        if self.cxml_dtd_path is None:
            return None
        if self._dtd is None:
            try:
                self._dtd = etree.DTD(str(self.cxml_dtd_path))
            except (etree.DTDParseError, OSError) as exc:
                raise ConfigError(f"cannot load the cXML DTD {self.cxml_dtd_path}: {exc}") from exc
        return self._dtd

    def check(self, document: OutboundDocument) -> list[Violation]:
        if document.format == "pidx" and document.tree is not None:
            return self._pidx(document.tree)
        if document.format != "cxml" or document.tree is None:
            return []
        dtd = self._cxml()
        if dtd is None:
            return []
        with self._lock:
            if dtd.validate(document.tree):
                return []
            errors = list(dtd.error_log.filter_from_errors())
        return [
            Violation(
                rule_id="cxml-dtd",
                field="document",
                value=None,
                message=f"the cXML does not follow InvoiceDetail.dtd: {error.message}",
                hint=_MAPPING_HINT,
                category=RejectionCategory.DOCUMENT,
            )
            for error in errors[:5]
        ]

    def _pidx(self, tree: etree._Element) -> list[Violation]:
        if self.pidx_xsd_path is None:
            return []
        try:
            # rules.documents compiles each schema file once per process (keyed by path and mtime).
            errors = schema_errors(str(self.pidx_xsd_path), "xsd", tree)
        except SchemaError as exc:
            raise ConfigError(f"cannot load the PIDX schema: {exc}") from exc
        return [
            Violation(
                rule_id="pidx-xsd",
                field="document",
                value=None,
                message=f"the PIDX invoice does not follow {self.pidx_xsd_path.name}: {error}",
                hint=_MAPPING_HINT,
                category=RejectionCategory.DOCUMENT,
            )
            for error in errors[:5]
        ]


_MAPPING_HINT = (
    "This is a mapping problem in portalhub or an unusual invoice; report it with the invoice number."
)


@dataclass(frozen=True)
class PreflightResult:
    violations: list[Violation]

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.blocking]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if not v.blocking]

    @property
    def passed(self) -> bool:
        return not self.blocking


def preflight(
    invoice: Invoice,
    profile: Profile,
    connector: Connector,
    schemas: DocumentSchemas,
    now: datetime,
    portal_invoice_number: str | None = None,
) -> PreflightResult:
    """Run every check; `connector` must be built with PlaceholderSecrets (see module docstring)."""
    rules = engine.compiled(profile)
    violations = rules.evaluate(invoice, now.date())
    envelope = Envelope(
        payload_id="preflight@portalhub",
        timestamp=now,
        invoice_number=portal_invoice_number or invoice.invoice_number,
        original_payload_id="preflight-original@portalhub" if invoice.original_invoice_number else None,
    )
    try:
        document = connector.render(invoice, profile, envelope)
        tree = document.tree
    except MappingError as exc:
        violations.append(
            Violation(
                rule_id="mapping", field="document", message=str(exc), category=RejectionCategory.DOCUMENT
            )
        )
        return PreflightResult(violations)
    if tree is not None:
        violations.extend(rules.evaluate(invoice, now.date(), tree))
    violations.extend(schemas.check(document))
    return PreflightResult(violations)
