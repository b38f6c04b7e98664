"""Pre-flight: everything an invoice must pass before it may be sent.

1. the field rules of its profile on the canonical invoice;
2. the document rules (XPath) on the document as the connector renders it;
3. the document's own schema (a DTD, an XSD), checked by the connector's family
   (`Connector.check_document`) against the schema files portalhub.yaml names (`cxml_dtd`,
   `pidx_xsd`, `document_schemas`); the hub knows no document format itself.

The document is rendered with a placeholder secret and payloadID: pre-flight never needs the real
credentials, so AR operations can validate on a laptop without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.base import Connector, Envelope, SchemaFiles
from hub.errors import MappingError
from hub.model import Invoice, RejectionCategory, Violation
from rules import engine
from rules.schema import Profile

PLACEHOLDER_SECRET = "preflight-placeholder"


class PlaceholderSecrets:
    """Resolves every reference to a placeholder: rendered documents for checks only, never sent."""

    def resolve(self, reference: str) -> str:
        return PLACEHOLDER_SECRET


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
    schemas: SchemaFiles,
    now: datetime,
    portal_invoice_number: str | None = None,
) -> PreflightResult:
    """Run every check; `connector` must be built with PlaceholderSecrets (see module docstring);
    `schemas`: the configured schema files (`Hub.schemas`), for the family's document check."""
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
    violations.extend(connector.check_document(document, schemas))
    return PreflightResult(violations)
