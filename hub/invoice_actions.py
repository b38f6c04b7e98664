"""What a collector does to one invoice from the command line, as typed results with their JSON form
(`as_json()`): pre-flight it without sending (`validate_invoice`: read from AR afresh, the hub's copy,
or a JSON file), and send a READY one now (`submit_invoice`). The invoice is named by any number the
buyer sees (`find_invoice`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError, DocumentError
from hub.model import Invoice, InvoiceState
from hub.services import invoice_row, timeline

if TYPE_CHECKING:
    from hub.pipeline.submit import SubmitReport
    from hub.preflight import PreflightResult
    from hub.runtime import Hub
    from hub.store.tables import InvoiceRow

S = InvoiceState


def load_invoice_file(path: Path) -> Invoice:
    from pydantic import ValidationError

    from hub.ar import describe_validation_error

    try:
        return Invoice.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise DocumentError(f"{path} is not a valid invoice: {describe_validation_error(exc)}") from exc


@dataclass
class Validated:
    """What `validate` checked: the invoice, where it was read, against which profile, and the verdict."""

    invoice: Invoice
    profile_id: str
    result: PreflightResult
    checked: str  # file | ar | stored
    where: (
        str  # the words for it: "the AR system (read now, record 1016)", "the hub's stored copy (revision 2)"
    )

    def violations_json(self) -> list[dict[str, Any]]:
        return [v.model_dump(mode="json") for v in self.result.violations]

    def as_json(self) -> dict[str, Any]:
        return {
            "invoice_number": self.invoice.invoice_number,
            "profile": self.profile_id,
            "checked": self.checked,
            "read_from": self.where,
            "passed": self.result.passed,
            "violations": self.violations_json(),
        }


def validate_invoice(hub: Hub, ref: str, profile_id: str | None, *, stored: bool = False) -> Validated:
    """Pre-flight an invoice without sending it: a JSON file, or an invoice number. By number it is
    read from the AR system afresh (as `resubmit` does), so "fix in AR, then check" checks the fix;
    `stored` checks the hub's copy instead (what the hub would send now)."""
    from hub.preflight import preflight

    path = Path(ref)
    if path.suffix.lower() == ".json" or path.exists():
        invoice, checked, where = load_invoice_file(path), "file", f"the file {path}"
    else:
        row = invoice_row(hub, ref)
        if stored:
            invoice = Invoice.model_validate_json(row.document)
            checked, where = "stored", f"the hub's stored copy (revision {row.revision})"
        else:
            invoice = _read_from_ar(hub, row)
            checked, where = "ar", f"the AR system (read now, record {row.ar_key})"
    profile = hub.profile(profile_id) if profile_id else hub.route(invoice.customer_id)
    if profile is None:
        raise ConfigError(f"no profile takes customer {invoice.customer_id!r}; pass --profile")
    result = preflight(invoice, profile, hub.preflight_connector(profile), hub.schemas, hub.clock.now())
    return Validated(invoice, profile.id, result, checked, where)


def _read_from_ar(hub: Hub, row: InvoiceRow) -> Invoice:
    records = list(hub.ar_source.pull(keys=[row.ar_key]))
    if not records:
        raise ConfigError(
            f"the AR system does not offer {row.invoice_number} (record {row.ar_key}) any more: is it still "
            "posted? (`validate --stored` checks the hub's copy)"
        )
    record = records[0]
    if record.invoice is None:
        raise DocumentError(
            f"the AR record of {row.invoice_number} (record {row.ar_key}), read now, is not a valid invoice: "
            f"{record.error}; fix it in the AR system"
        )
    return record.invoice


def submit_now(hub: Hub, number: str) -> SubmitReport:
    """Send one READY invoice now (ignoring its backoff); refuses other states with the reason."""
    from hub.pipeline.submit import submit_profile

    row = invoice_row(hub, number)
    if row.state != S.READY.value or row.profile_id is None:
        raise ConfigError(f"{number} is {row.state}, not READY: {row.last_reason or ''}".rstrip(": "))
    return submit_profile(hub, hub.profile(row.profile_id), limit=1, invoice_id=row.id)


@dataclass
class Submitted:
    """`portalhub submit`: what was sent and where the invoice is now."""

    invoice_number: str
    sent: int
    outcomes: dict[str, int]
    state: str
    reason: str | None

    @property
    def refused(self) -> bool:
        """Blocked by pre-flight or rejected by the portal: the collector has something to fix."""
        return self.state in (S.REJECTED.value, S.BLOCKED.value)

    def as_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "outcomes": self.outcomes, "state": self.state, "reason": self.reason}


def submit_invoice(hub: Hub, number: str) -> Submitted:
    """Send one READY invoice now (`submit_now`), then read where it is."""
    report = submit_now(hub, number)
    head = timeline(hub, number)["invoice"]
    return Submitted(head["invoice_number"], report.sent, report.outcomes, head["state"], head["reason"])
