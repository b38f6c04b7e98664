"""What intake decides for one invoice, whether it is taken alone or in a batch: the profile it goes to
(or why none), its pre-flight, the number check, and the verdict READY or BLOCKED with the event's
reason, category and details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.model import Invoice, InvoiceState, RejectionCategory, Violation
from hub.preflight import PreflightResult, preflight
from hub.runtime import Hub
from rules.schema import Profile

S = InvoiceState


def routing(hub: Hub, invoice: Invoice) -> tuple[Profile | None, str | None]:
    """The invoice's profile, or (None, why it has none): a customer two files claim, a customer whose
    rules file does not load, or no file taking the customer."""
    profile = hub.route(invoice.customer_id)
    broken = hub.broken_profile_for(invoice.customer_id) if profile is None else None
    contest = hub.contested.get(invoice.customer_id)
    if contest is not None:
        return None, f"not routed: {contest}"
    if broken is not None:
        file, problems = broken
        return None, (
            f"the rules file {file} for this customer does not load; the invoice waits until it is "
            f"fixed: {'; '.join(problems[:3])}"
        )
    if profile is None:
        return None, (
            f"no portal profile takes customer {invoice.customer_id!r}: add it to `match.customer_id` "
            "of that customer's rules file"
        )
    return profile, None


def run_preflight(
    hub: Hub, invoice: Invoice, profile: Profile, now: datetime, portal_number: str | None
) -> PreflightResult:
    return preflight(invoice, profile, hub.preflight_connector(profile), hub.schemas, now, portal_number)


@dataclass(frozen=True)
class Verdict:
    """Where pre-flight sends a routed invoice, and the event's reason, category and details."""

    state: InvoiceState
    reason: str
    category: RejectionCategory | None
    details: dict[str, Any]


def decide(
    profile: Profile,
    result: PreflightResult,
    duplicate: Violation | None,
    prefix: str,
    invoice: Invoice,
    portal_number: str | None,
) -> Verdict:
    """READY or BLOCKED from the pre-flight result and the number check (`duplicate`, first when given)."""
    violations = [duplicate, *result.violations] if duplicate is not None else result.violations
    checked = PreflightResult(violations)
    details = {
        "profile": profile.id,
        "rules_version": profile.version,
        "rules_effective_from": profile.effective_from.isoformat() if profile.effective_from else None,
        "rules_fingerprint": profile.fingerprint,
        "rules_sources": profile.sources,
        "violations": [v.model_dump(mode="json") for v in violations],
    }
    blocking = checked.blocking
    if not blocking:
        warnings = "; ".join(v.describe() for v in checked.warnings)
        reason = (
            prefix
            + f"passed pre-flight for {profile.id}"
            + (f" with warnings: {warnings}" if warnings else "")
        )
        if portal_number and portal_number != invoice.invoice_number:
            reason += f"; the portal will get it as {portal_number}"
        return Verdict(S.READY, reason, None, details)
    reason = prefix + "; ".join(v.describe() + (f" -> {v.hint}" if v.hint else "") for v in blocking)
    return Verdict(S.BLOCKED, reason, blocking[0].category, details)


def duplicate_number(number: str, ar_key: str, holder: Holder, profile_id: str) -> Violation:
    """The violation of a record whose portal `number` another, earlier AR record (`holder`) holds."""
    return Violation(
        rule_id="duplicate-invoice-number",
        field="invoice_number",
        value=number,
        message=f"invoice number {number} is already held for {profile_id} by AR record {holder.ar_key} "
        f"(from {holder.source}, now {holder.state}); {profile_id} would refuse it as a duplicate",
        hint=f"Two AR records carry {number}: give this one (AR record {ar_key}) its own number, or "
        f"withdraw it if it repeats AR record {holder.ar_key}.",
        expected="a number no other AR record holds for this portal",
        category=RejectionCategory.DUPLICATE,
    )


class Holder(Protocol):
    """What the duplicate-number violation names of the record holding the number."""

    @property
    def ar_key(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def state(self) -> str: ...
