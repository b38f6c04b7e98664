"""The reliability verdict, counted at the portal's side: what the sandbox *received* and *created*, per
invoice number, set against what the hub says happened to each invoice and what the AR system was told.

`judge(facts)` is pure (plain records in, a `Verdict` out), so it is itself tested with planted faults
(tests/reliability/test_verdict.py); `bench.scenario.verify(scenario)` gathers the facts of a real run.

The rules, per invoice number:
- *created* at the portal: exactly 1 when the hub says the invoice reached the portal (SUBMITTED and
  every later portal state, REJECTED after an acceptance), 0 otherwise (BLOCKED, READY, never sent, and
  REJECTED because the portal refused its content, which needs a receipt the portal refused for content);
- *received*: each receipt after the first must be explained by the hub's attempts (the send before it
  ended transient, or in doubt and the lookup found nothing, ...) and must not come after the portal had
  already created the invoice (a resend of an invoice the portal has is a fault, explained or not);
- the AR system: every event the hub marked delivered is there, written once; the same status change
  written twice under two event ids (same invoice, same from/to, same words, one right after the other)
  is a duplicate, which a count of distinct event ids cannot see.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

#: Where the hub says the invoice is at the portal.
AT_THE_PORTAL = frozenset(
    {"SUBMITTED", "PENDING_APPROVAL", "APPROVED", "PAID", "DISPUTED", "ON_HOLD", "CANCELLED"}
)
#: States in which a run may end.
FINAL = AT_THE_PORTAL | {"REJECTED", "BLOCKED"}
#: Attempt outcomes that mean the portal had the invoice.
ACCEPTED = frozenset({"accepted", "found"})
#: The outcome of an attempt taken back before its request left (hub/pipeline/outcome.py withdraw_claim).
NOT_SENT = "not_sent"


@dataclass(frozen=True)
class HubInvoice:
    number: str  # the number the portal knows it by
    state: str


@dataclass(frozen=True)
class HubAttempt:
    id: int
    number: str
    payload_id: str
    outcome: str
    revision: int = 1
    answer: str = ""  # HTTP status / error in a few words, for the reasons listed


@dataclass(frozen=True)
class PortalReceipt:
    seq: int
    number: str
    payload_id: str
    outcome: str  # the answer: created / refused-* / fault-injected-before / fault-injected-after
    processed: str  # what the portal did with it: created / refused-* / "" (not processed)

    @property
    def created(self) -> bool:
        return self.processed == "created"


@dataclass(frozen=True)
class ArRow:
    position: int  # write order in the AR table
    event_id: str
    invoice_number: str
    previous_state: str | None
    state: str
    reason: str | None
    raw_status: str | None
    at: str


@dataclass
class Facts:
    """Everything a verdict looks at, read from the hub's store, the portal's receipt log and AR."""

    expected_invoices: int
    invoices: list[HubInvoice]
    attempts: list[HubAttempt]
    receipts: list[PortalReceipt]
    ar_rows: list[ArRow]
    hub_event_ids: set[str]  # the events the hub marked delivered to AR
    #: Every AR invoice of the scenario is valid for its portal: each must end created there.
    all_valid: bool = True


@dataclass
class Verdict:
    invoices: int
    created: int  # documents created at the portal
    received: int  # documents received by the portal (refused resends and faulted requests included)
    numbers_created: Counter[int]  # how many numbers were created 0, 1, 2... times
    extra_receipts: list[str]  # every receipt beyond the first, with the reason the hub resent it
    resend_reasons: Counter[str]
    states: Counter[str]
    ar_events: int
    ar_duplicates: int
    unreadable: int = 0  # documents received that carried no readable number (cut by a kill mid-body)
    failures: list[str] = field(default_factory=list)
    # Filled in by the harness (not judged here):
    attempts: int = 0
    attempts_by_worker: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    max_attempts_per_invoice: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def duplicates(self) -> int:
        """Invoice numbers created more than once at the portal."""
        return sum(count for times, count in self.numbers_created.items() if times > 1)

    @property
    def lost(self) -> int:
        """Invoices the hub says reached the portal that the portal never created."""
        return sum(1 for failure in self.failures if failure.startswith("lost"))

    @property
    def at_portal(self) -> int:
        return self.created

    def counts(self) -> dict[str, object]:
        """The portal-side figures of a run, for `make reliability`'s lines and the docs."""
        return {
            "invoices": self.invoices,
            "created": self.created,
            "created_once": self.numbers_created.get(1, 0),
            "created_twice_or_more": self.duplicates,
            "never_created": self.numbers_created.get(0, 0),
            "received": self.received,
            "extra_receipts": len(self.extra_receipts),
            "unreadable_receipts": self.unreadable,
            "resend_reasons": dict(self.resend_reasons),
            "states": dict(self.states),
            "ar_events": self.ar_events,
            "ar_duplicates": self.ar_duplicates,
            "failures": len(self.failures),
        }

    def summary(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in self.resend_reasons.most_common()) or "none"
        text = (
            f"invoices {self.invoices}; at the portal: created {self.created} (once "
            f"{self.numbers_created.get(1, 0)}, twice or more {self.duplicates}, never "
            f"{self.numbers_created.get(0, 0)}), received {self.received} (extra {len(self.extra_receipts)}: "
            f"{reasons}; unreadable {self.unreadable}); hub states {dict(self.states)}; attempts "
            f"{self.attempts} (max {self.max_attempts_per_invoice} per invoice), by worker {self.attempts_by_worker}; faults "
            f"injected {self.faults}; AR events {self.ar_events} (duplicates {self.ar_duplicates}); "
            f"{'OK' if self.ok else f'FAILED ({len(self.failures)})'}"
        )
        if self.failures:
            text += "\n  " + "\n  ".join(self.failures[:20])
            if len(self.failures) > 20:
                text += f"\n  ... and {len(self.failures) - 20} more"
        return text


def resend_reason(previous: HubAttempt | None) -> str | None:
    """Why the hub sent an invoice again, from the attempt before; None when it had no reason to."""
    if previous is None:
        return None
    answer = f" ({previous.answer})" if previous.answer else ""
    if previous.outcome == "transient":
        return f"transient retry{answer}"
    if previous.outcome == "absent":
        return "in-doubt reconcile: the lookup did not find the earlier send"
    if previous.outcome == "auth":
        return f"retry after an access refusal{answer}"
    if previous.outcome == "rejected":
        return "corrected invoice sent after a rejection"
    return None  # accepted, found, in doubt and never reconciled, pending...: no reason to send again


def judge(facts: Facts) -> Verdict:
    """The verdict on one run; every violation is one line of `failures`."""
    failures: list[str] = []
    receipts: dict[str, list[PortalReceipt]] = defaultdict(list)
    for receipt in sorted(facts.receipts, key=lambda r: r.seq):
        receipts[receipt.number].append(receipt)
    attempts_of: dict[str, list[HubAttempt]] = defaultdict(list)
    by_payload: dict[str, HubAttempt] = {}
    for attempt in sorted(facts.attempts, key=lambda a: a.id):
        attempts_of[attempt.number].append(attempt)
        by_payload[attempt.payload_id] = attempt
    known = {invoice.number for invoice in facts.invoices}
    states: Counter[str] = Counter(invoice.state for invoice in facts.invoices)
    numbers_created: Counter[int] = Counter()

    for invoice in facts.invoices:
        got = receipts.get(invoice.number, [])
        created = sum(1 for r in got if r.created)
        numbers_created[created] += 1
        accepted = any(a.outcome in ACCEPTED for a in attempts_of[invoice.number])
        reached = invoice.state in AT_THE_PORTAL or (invoice.state == "REJECTED" and accepted)
        seen = ", ".join(r.outcome for r in got) or "nothing"
        if invoice.state not in FINAL:
            failures.append(f"unsettled: {invoice.number}: hub {invoice.state} (portal: {seen})")
            continue
        if reached and created != 1:
            kind = "lost" if created == 0 else "duplicate"
            failures.append(
                f"{kind}: {invoice.number}: hub {invoice.state}, portal created it {created} time(s) ({seen})"
            )
        elif not reached and created:
            failures.append(
                f"wrongly settled: {invoice.number}: hub {invoice.state}, but the portal created it {created} time(s)"
            )
        elif invoice.state == "REJECTED" and not accepted:
            refused = {a.payload_id for a in attempts_of[invoice.number] if a.outcome == "rejected"}
            if not any(r.processed == "refused-content" and r.payload_id in refused for r in got):
                failures.append(
                    f"wrongly settled: {invoice.number}: hub REJECTED, but the portal never refused its content ({seen})"
                )
        if facts.all_valid and invoice.state not in AT_THE_PORTAL:
            failures.append(
                f"not at the portal: {invoice.number}: hub {invoice.state}, every invoice of the run is valid"
            )
    if facts.expected_invoices > len(facts.invoices):
        failures.append(
            f"lost before the portal: {facts.expected_invoices - len(facts.invoices)} AR invoice(s) never in the hub"
        )

    extra, reasons = _extra_receipts(receipts, attempts_of, by_payload, known, failures)
    ar_duplicates = _ar_checks(facts, failures)
    return Verdict(
        invoices=len(facts.invoices),
        created=sum(1 for r in facts.receipts if r.created),
        received=len(facts.receipts),
        numbers_created=numbers_created,
        extra_receipts=extra,
        resend_reasons=reasons,
        states=states,
        ar_events=len(facts.ar_rows),
        ar_duplicates=ar_duplicates,
        unreadable=sum(1 for r in facts.receipts if not r.number),
        failures=failures,
    )


def _extra_receipts(
    receipts: dict[str, list[PortalReceipt]],
    attempts_of: dict[str, list[HubAttempt]],
    by_payload: dict[str, HubAttempt],
    known: set[str],
    failures: list[str],
) -> tuple[list[str], Counter[str]]:
    extra: list[str] = []
    reasons: Counter[str] = Counter()
    for number, got in receipts.items():
        if number not in known:
            # An unreadable document ("" : cut by a kill mid-body, say) is harmless unless it was created.
            if number or any(r.created for r in got):
                failures.append(
                    f"unknown document: the portal received {len(got)} document(s) numbered {number!r} "
                    "that the hub never had"
                )
            continue
        payloads_seen: set[str] = set()
        created_before = False
        for position, receipt in enumerate(got):
            attempt = by_payload.get(receipt.payload_id)
            if attempt is not None and attempt.outcome == NOT_SENT:
                failures.append(
                    f"sent although recorded as never sent: {number}: the portal received payloadID "
                    f"{receipt.payload_id}, whose attempt says {NOT_SENT}"
                )
            if position > 0:
                if attempt is None:
                    reason = None
                    why = f"payloadID {receipt.payload_id} is none of the hub's sends"
                elif receipt.payload_id in payloads_seen:
                    reason = None
                    why = f"the same document (payloadID {receipt.payload_id}) received again"
                else:
                    # The reason is the last attempt that left: one taken back before it left
                    # (NOT_SENT) says nothing about the portal.
                    earlier = [a for a in attempts_of[number] if a.id < attempt.id and a.outcome != NOT_SENT]
                    reason = resend_reason(earlier[-1] if earlier else None)
                    why = (
                        f"after attempt outcome {earlier[-1].outcome!r}" if earlier else "no earlier attempt"
                    )
                line = (
                    f"{number}: receipt {position + 1} ({receipt.outcome}): {reason or 'UNEXPLAINED, ' + why}"
                )
                extra.append(line)
                reasons[reason or "unexplained"] += 1
                if reason is None:
                    failures.append(f"unexplained receipt: {line}")
                elif created_before:
                    failures.append(f"resent although created: {line}")
            payloads_seen.add(receipt.payload_id)
            created_before = created_before or receipt.created
    return extra, reasons


def _ar_checks(facts: Facts, failures: list[str]) -> int:
    """AR rows written twice by content, and hub events that never reached AR (or came twice)."""
    duplicates = 0
    history: dict[str, list[ArRow]] = defaultdict(list)
    for row in sorted(facts.ar_rows, key=lambda r: (r.at, r.position)):
        history[row.invoice_number].append(row)
    for number, rows in history.items():
        for before, after in pairwise(rows):
            if _content(before) == _content(after):
                duplicates += 1
                failures.append(
                    f"AR duplicate: {number}: {after.previous_state} -> {after.state} written twice "
                    f"({before.event_id}, {after.event_id})"
                )
    ids = Counter(row.event_id for row in facts.ar_rows)
    for event_id, count in ids.items():
        if count > 1:
            duplicates += count - 1
            failures.append(f"AR duplicate: event {event_id} written {count} times")
    missing = facts.hub_event_ids - set(ids)
    if missing:
        failures.append(f"AR missing {len(missing)} event(s), e.g. {sorted(missing)[:5]}")
    return duplicates


def _content(row: ArRow) -> tuple[str | None, str, str | None, str | None]:
    return (row.previous_state, row.state, row.reason, row.raw_status)
