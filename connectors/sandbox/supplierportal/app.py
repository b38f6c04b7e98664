"""The sandbox supplier portal's request handling: sign-in, then a separate one-time-code page; a
dashboard whose "Create Invoice" creates a draft at its own address; the two-step wizard (details,
then lines) with the portal's own checks; submitted invoices reviewed on the sandbox clock; the paged
invoice list and detail pages; sessions that expire."""

from __future__ import annotations

import itertools
import secrets as tokens
import threading
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import pyotp

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer
from connectors.sandbox.supplierportal import pages
from connectors.sandbox.supplierportal.config import SupplierPortalConfig
from connectors.sandbox.supplierportal.forms import check_details, check_lines, posted_rows
from connectors.sandbox.supplierportal.state import Draft, Invoice, Session, review
from connectors.sandbox.web import amount, cookie, html, page_of, read_form, redirect

COOKIE = "sp_session"


class SupplierPortalSandbox:
    """One buyer's supplier portal on 127.0.0.1, at the root of its address."""

    def __init__(self, config: SupplierPortalConfig, clock: SandboxClock | None = None):
        self.config = config
        self.clock = clock or SandboxClock()
        self.server: SandboxServer | None = None
        self.sessions: dict[str, Session] = {}
        self.drafts: dict[str, Draft] = {}
        self.invoices: list[Invoice] = []
        self.logins = 0  # sign-ins that passed both factors
        self.refused: Counter[str] = Counter()  # "password" / "code"
        self.posts: Counter[str] = Counter()  # wizard posts received: details, submit
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        long_ago = self.clock.now() - timedelta(days=365)
        for existing in config.existing_invoices:
            self.invoices.append(
                Invoice(
                    id=self._next_id(),
                    number=existing.number,
                    po="",
                    invoice_date="",
                    currency="USD",
                    lines=[],
                    tax=Decimal(0),
                    freight=Decimal(0),
                    total=Decimal(0),
                    submitted_at=long_ago,
                    submitted_by="keyed by hand",
                    timeline=[(long_ago, existing.status, None)],
                )
            )

    def _next_id(self) -> str:
        return f"SP{720000 + next(self._ids)}"

    def serve(self, port: int = 0, faults: FaultPlan | None = None, latency: float = 0.0) -> SandboxServer:
        self.server = SandboxServer(self, port=port, faults=faults, latency=latency).start()
        return self.server

    # --- controls for tests and the demo --------------------------------------------------------------
    def received(self) -> list[Invoice]:
        """Invoices that came in through the wizard (not the hand-keyed ones)."""
        with self._lock:
            return [i for i in self.invoices if i.submitted_by != "keyed by hand"]

    def invoice(self, number: str) -> Invoice | None:
        with self._lock:
            return next((i for i in self.invoices if i.number == number), None)

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    # --- HTTP -------------------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Reply:
        with self._lock:
            return self._route(request, [p for p in request.path.split("/") if p])

    def _route(self, request: Request, parts: list[str]) -> Reply:
        method = request.method
        if parts == ["login"]:
            return self._login(request)
        if parts == ["verify"]:
            return self._verify(request)
        if parts == ["logout"]:
            self.sessions.pop(self._token(request) or "", None)
            return redirect("/login")
        session = self._session(request)
        if session is None or not session.verified:
            target = request.path + (
                f"?{urlencode({k: v[0] for k, v in request.query.items()})}" if request.query else ""
            )
            return redirect(f"/login?next={quote(target)}")
        if parts in ([], ["dashboard"]) and method == "GET":
            mine = sum(1 for d in self.drafts.values() if d.owner == session.email and not d.submitted_as)
            return html(pages.dashboard(self.config, session.email, mine))
        if parts == ["drafts"] and method == "POST":
            made = Draft(id=tokens.token_hex(4).upper(), owner=session.email)
            self.drafts[made.id] = made
            return redirect(f"/drafts/{made.id}/details")
        if len(parts) == 3 and parts[0] == "drafts":
            draft = self.drafts.get(parts[1])
            if draft is not None and draft.owner == session.email and parts[2] == "details":
                return self._details(request, draft)
            if draft is not None and draft.owner == session.email and parts[2] == "lines" and method == "GET":
                if not draft.details_done:
                    return redirect(f"/drafts/{draft.id}/details")
                return html(pages.lines(self.config, draft, {}, {}, {}, {}))
        if len(parts) == 2 and parts[0] == "submit" and method == "POST":
            posted = self.drafts.get(parts[1])
            if posted is not None and posted.owner == session.email:
                return self._submit(request, posted, session)
        if parts == ["invoices"] and method == "GET":
            return self._list(request)
        if len(parts) == 2 and parts[0] == "invoices" and method == "GET":
            invoice = next((i for i in self.invoices if i.id == parts[1]), None)
            if invoice is not None:
                status, reason, _ = invoice.status_at(self.clock.now())
                submitted = request.param("submitted") == "1"
                return html(pages.invoice_page(self.config, invoice, status, reason, submitted))
        return html(pages.not_found(self.config, True), 404)

    # --- signing in -------------------------------------------------------------------------------------
    def _token(self, request: Request) -> str | None:
        return cookie(request, COOKIE)

    def _session(self, request: Request) -> Session | None:
        session = self.sessions.get(self._token(request) or "")
        if session is None:
            return None
        if self.clock.now() - session.last_seen > timedelta(minutes=self.config.session_minutes):
            del self.sessions[session.token]
            return None
        session.last_seen = self.clock.now()
        return session

    def _login(self, request: Request) -> Reply:
        next_path = request.param("next") or ""
        if request.method != "POST":
            return html(pages.sign_in(self.config, next_path=next_path))
        fields, _ = read_form(request)
        email = fields.get("email", "").strip()
        user = self.config.user(email)
        if user is None or not tokens.compare_digest(
            user.password.encode(), fields.get("password", "").encode()
        ):
            self.refused["password"] += 1
            return html(pages.sign_in(self.config, email, "Invalid email or password.", next_path))
        token = tokens.token_urlsafe(24)
        target = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/dashboard"
        self.sessions[token] = Session(token, user.email, self.clock.now(), next_path=target)
        return redirect("/verify", f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax")

    def _verify(self, request: Request) -> Reply:
        session = self._session(request)
        if session is None:
            return redirect("/login")
        if request.method != "POST":
            return html(pages.one_time_code(self.config))
        fields, _ = read_form(request)
        user = self.config.user(session.email)
        assert user is not None
        # One step either side, for clock drift; codes follow real time.
        if not pyotp.TOTP(user.totp_seed).verify(fields.get("otp", "").strip(), valid_window=1):
            self.refused["code"] += 1
            return html(pages.one_time_code(self.config, "That code is not valid. Try again."))
        session.verified = True
        self.logins += 1
        return redirect(session.next_path or "/dashboard")

    # --- the wizard ---------------------------------------------------------------------------------------
    def _taken(self) -> set[str]:
        return {i.number for i in self.invoices}

    def _details(self, request: Request, draft: Draft) -> Reply:
        if draft.submitted_as:
            return redirect(f"/invoices/{draft.submitted_as}")
        if request.method == "GET":
            query = (request.param("q") or "").strip()
            found = None
            if query:
                wanted = query.casefold()
                found = [
                    po
                    for po in self.config.purchase_orders
                    if wanted in po.number.casefold() or wanted in po.description.casefold()
                ]
            return html(pages.details(self.config, draft, found, query, {}))
        self.posts["details"] += 1
        fields, _ = read_form(request)
        errors = check_details(self.config, draft, fields, self._taken())
        if errors:
            return html(pages.details(self.config, draft, None, "", errors), 422)
        draft.details_done = True
        return redirect(f"/drafts/{draft.id}/lines")

    def _submit(self, request: Request, draft: Draft, session: Session) -> Reply:
        self.posts["submit"] += 1
        fields, files = read_form(request)
        if draft.submitted_as:
            message = f"This draft was already submitted as invoice {draft.number}."
            return html(pages.lines(self.config, draft, {}, {}, {"lines": message}, {}), 409)
        rows = posted_rows(fields)
        lines, line_errors = check_lines(self.config, draft, rows)
        errors: dict[str, str] = {}
        if not rows:
            errors["lines"] = "Add at least one line."
        if draft.number in self._taken():
            errors["lines"] = f"Invoice number {draft.number} has already been used on this portal."
        money = {name: amount(fields.get(name) or "0") for name in ("tax", "freight", "total")}
        for name, label in (("tax", "Sales tax"), ("freight", "Freight"), ("total", "Invoice total")):
            if money[name] is None:
                errors[name] = f"{label} must be an amount."
        tax, freight, total = money["tax"], money["freight"], money["total"]
        if tax is not None and freight is not None and total is not None and lines and not line_errors:
            expected = sum((line.amount for line in lines), Decimal(0)) + tax + freight
            if abs(expected - total) > Decimal("0.01"):
                errors["total"] = f"The total should be {expected:,} (lines plus tax and freight)."
        pdf = files.get("pdf")
        if pdf is None:
            errors["pdf"] = "Attach a PDF copy of the invoice."
        elif not pdf.content.startswith(b"%PDF-"):
            errors["pdf"] = "The file is not a PDF."
        elif len(pdf.content) > self.config.max_pdf_bytes:
            errors["pdf"] = f"The PDF is larger than {self.config.max_pdf_bytes // 1024} KB."
        if errors or line_errors:
            values = {k: fields.get(k, "") for k in ("tax", "freight", "total")}
            return html(pages.lines(self.config, draft, rows, line_errors, errors, values), 422)
        assert tax is not None and freight is not None and total is not None and pdf is not None
        invoice = Invoice(
            id=self._next_id(),
            number=draft.number,
            po=draft.po or "",
            invoice_date=datetime.strptime(draft.invoice_date, "%m/%d/%Y").date().isoformat(),
            currency=draft.currency,
            lines=lines,
            tax=tax,
            freight=freight,
            total=total,
            submitted_at=self.clock.now(),
            submitted_by=session.email,
            timeline=[(self.clock.now(), "Pending review", None)],
            pdf=pdf.content,
        )
        review(self.config, invoice)
        self.invoices.append(invoice)
        draft.submitted_as = invoice.id
        return redirect(f"/invoices/{invoice.id}?submitted=1")

    # --- reading ------------------------------------------------------------------------------------------
    def _list(self, request: Request) -> Reply:
        query = (request.param("q") or "").strip()
        now = self.clock.now()
        rows = []
        for invoice in self.invoices:
            if query and query.casefold() not in invoice.number.casefold():
                continue
            status, _, when = invoice.status_at(now)
            rows.append((invoice, status, when))
        rows.sort(key=lambda row: (row[2], row[0].id), reverse=True)  # newest change first
        shown, page, count = page_of(rows, request.param("page"), self.config.page_size)
        return html(pages.invoice_list(self.config, shown, query, page, count))
