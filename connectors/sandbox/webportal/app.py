"""The sandbox web portal's request handling: sign-in with a TOTP second factor, the invoice form
(PO lookup, lines added one at a time, PDF upload, the buyer's own checks), the invoice list with
filters and pages, detail pages with rejection and dispute reasons, and sessions that expire."""

from __future__ import annotations

import itertools
import secrets as token_generator
import threading
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyotp

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer
from connectors.sandbox.web import Upload, cookie, html, page_of, read_form, redirect
from connectors.sandbox.webportal import pages
from connectors.sandbox.webportal.checks import check_invoice, check_line, keep_header
from connectors.sandbox.webportal.config import Buyer, WebPortalSandboxConfig
from connectors.sandbox.webportal.state import Draft, PortalInvoice, Session, review


def views(buyer: Buyer) -> Any:
    """The module that renders this buyer's pages (one layout; the second sandbox portal, built
    differently in flow as well, is connectors/sandbox/supplierportal)."""
    return pages


class WebPortalSandbox:
    """A buyer-hosted supplier portal on 127.0.0.1, one buyer per path prefix (`/<slug>/`)."""

    def __init__(self, config: WebPortalSandboxConfig, clock: SandboxClock | None = None):
        self.config = config
        self.clock = clock or SandboxClock()
        self.server: SandboxServer | None = None
        self.sessions: dict[str, Session] = {}
        self.invoices: list[PortalInvoice] = []
        self.logins: Counter[str] = Counter()  # successful sign-ins (both factors) per buyer
        self.refused: Counter[str] = Counter()  # "password" / "code" refusals
        self.posts: Counter[str] = Counter()  # form actions received, by name
        self._expire_on: set[str] = set()
        self._resend_next = False
        self._references = itertools.count(1)
        self._lock = threading.RLock()
        for buyer in config.buyers:
            for existing in buyer.existing_invoices:
                self.invoices.append(
                    PortalInvoice(
                        reference=f"WP-9{next(self._references):05d}",
                        buyer=buyer.slug,
                        number=existing.number,
                        invoice_date="",
                        po_number="",
                        currency=buyer.currencies[0],
                        lines=[],
                        tax=Decimal(0),
                        charges=Decimal(0),
                        total=Decimal(0),
                        submitted_at=self.clock.now() - timedelta(days=365),
                        submitted_by="keyed by hand",
                        timeline=[(self.clock.now() - timedelta(days=365), existing.status, None)],
                    )
                )

    def serve(self, port: int = 0, faults: FaultPlan | None = None, latency: float = 0.0) -> SandboxServer:
        self.server = SandboxServer(self, port=port, faults=faults, latency=latency).start()
        return self.server

    # --- controls for tests and the demo ---------------------------------------------------------------
    def expire_sessions(self) -> None:
        """Every signed-in session ends now, as after a long idle time."""
        with self._lock:
            self.sessions.clear()

    def expire_session_on(self, action: str) -> None:
        """The session ends just before the next `action` POST is processed (lookup_po, add_line, submit)."""
        with self._lock:
            self._expire_on.add(action)

    def resend_next_submit(self) -> None:
        """The next submission arrives twice, as when a browser resends a POST whose connection dropped:
        the first creates the invoice, the browser sees only the answer to the second."""
        with self._lock:
            self._resend_next = True

    def received(self, slug: str | None = None) -> list[PortalInvoice]:
        """Invoices that came in through the form (not the hand-keyed ones)."""
        with self._lock:
            return [
                i
                for i in self.invoices
                if i.submitted_by != "keyed by hand" and (slug is None or i.buyer == slug)
            ]

    def invoice(self, number: str, slug: str | None = None) -> PortalInvoice | None:
        with self._lock:
            return next(
                (i for i in self.invoices if i.number == number and (slug is None or i.buyer == slug)), None
            )

    def set_status(self, number: str, status: str, reason: str | None = None) -> None:
        """The buyer moves an invoice by hand, now (portal time)."""
        with self._lock:
            invoice = self.invoice(number)
            assert invoice is not None, number
            invoice.timeline = [e for e in invoice.timeline if e[0] <= self.clock.now()]
            invoice.timeline.append((self.clock.now(), status, reason))

    # --- HTTP ----------------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Reply:
        parts = [p for p in request.path.split("/") if p]
        buyer = self.config.buyer(parts[0]) if parts else None
        if buyer is None:
            return html(b"<!doctype html><title>Not found</title><h1>Not found</h1>", 404)
        with self._lock:
            return self._route(buyer, request, parts[1:])

    def _route(self, buyer: Buyer, request: Request, rest: list[str]) -> Reply:
        method = request.method
        if rest == ["login"]:
            return self._login(buyer, request)
        if rest == ["mfa"]:
            return self._mfa(buyer, request)
        if rest == ["logout"]:
            self.sessions.pop(self._token(buyer, request) or "", None)
            return redirect(f"/{buyer.slug}/login")
        fields, files = read_form(request) if method == "POST" else ({}, {})
        action = "submit" if rest == ["invoices", "submit"] else fields.get("action", "page")
        if method == "POST":
            self.posts[action] += 1  # received, whether or not the session lets it through
        session = self._signed_in(buyer, request, action)
        if session is None:
            target = request.path + (
                "?" + "&".join(f"{k}={quote(v[0])}" for k, v in request.query.items())
                if request.query
                else ""
            )
            expired = "&expired=1" if self._token(buyer, request) else ""
            return redirect(f"/{buyer.slug}/login?next={quote(target)}{expired}")
        if rest in ([], ["invoices"]) and method == "GET":
            return self._list(buyer, request) if rest else redirect(f"/{buyer.slug}/invoices")
        if rest == ["invoices", "new"]:
            if method == "GET":
                session.draft = Draft()
                return html(views(buyer).invoice_form(buyer, session.draft))
            return self._form_action(buyer, session, fields, action)
        if rest == ["invoices", "submit"] and method == "POST":
            reply = self._submit(buyer, session, fields, files)
            if self._resend_next and reply.status == 303:
                # What a browser's silent resend of the same POST gets: the form, saying "already".
                self._resend_next = False
                self.posts[action] += 1
                reply = self._submit(buyer, session, fields, files)
            return reply
        if len(rest) in (2, 3) and rest[0] == "invoices" and method == "GET":
            invoice = next(
                (i for i in self.invoices if i.reference == rest[1] and i.buyer == buyer.slug), None
            )
            if invoice is not None and len(rest) == 2:
                return self._detail(buyer, invoice, request.param("created") == "1")
            if invoice is not None and rest[2] == "pdf" and invoice.pdf is not None:
                return Reply(200, invoice.pdf, "application/pdf", {"Connection": "close"})
        return html(views(buyer).page(buyer, "Page not found", "<p>There is no such page.</p>", True), 404)

    # --- sessions ----------------------------------------------------------------------------------------
    @staticmethod
    def _cookie_name(buyer: Buyer) -> str:
        return f"wp_{buyer.slug}"

    def _token(self, buyer: Buyer, request: Request) -> str | None:
        return cookie(request, self._cookie_name(buyer))

    def _session(self, buyer: Buyer, request: Request) -> Session | None:
        session = self.sessions.get(self._token(buyer, request) or "")
        if session is None or session.buyer != buyer.slug:
            return None
        if self.clock.now() - session.last_seen > timedelta(minutes=self.config.session_minutes):
            del self.sessions[session.token]
            return None
        return session

    def _signed_in(self, buyer: Buyer, request: Request, action: str) -> Session | None:
        session = self._session(buyer, request)
        if session is None or not session.authenticated:
            return None
        if request.method == "POST" and action in self._expire_on:
            self._expire_on.discard(action)
            del self.sessions[session.token]
            return None
        session.last_seen = self.clock.now()
        return session

    def _login(self, buyer: Buyer, request: Request) -> Reply:
        if request.method != "POST":
            notices = ["Your session has expired. Please sign in again."] if request.param("expired") else []
            return html(views(buyer).login(buyer, notices=notices, next_path=request.param("next")))
        fields, _ = read_form(request)
        username = fields.get("username", "").strip()
        user = buyer.user(username)
        if user is None or not token_generator.compare_digest(
            user.password.encode(), fields.get("password", "").encode()
        ):
            self.refused["password"] += 1
            refusal = ["The user name or password is incorrect."]
            return html(views(buyer).login(buyer, username, refusal, next_path=request.param("next")))
        token = token_generator.token_urlsafe(24)
        next_path = request.param("next")
        if not (next_path and next_path.startswith(f"/{buyer.slug}/")):
            next_path = f"/{buyer.slug}/invoices"
        self.sessions[token] = Session(token, buyer.slug, username, self.clock.now(), next_path=next_path)
        session_cookie = f"{self._cookie_name(buyer)}={token}; Path=/{buyer.slug}/; HttpOnly; SameSite=Lax"
        return redirect(f"/{buyer.slug}/mfa", session_cookie)

    def _mfa(self, buyer: Buyer, request: Request) -> Reply:
        session = self._session(buyer, request)
        if session is None:
            return redirect(f"/{buyer.slug}/login")
        if request.method != "POST":
            return html(views(buyer).mfa(buyer))
        fields, _ = read_form(request)
        user = buyer.user(session.username)
        assert user is not None
        # One step either side, as real portals allow for clock drift; codes follow real time.
        if not pyotp.TOTP(user.totp_seed).verify(fields.get("code", "").strip(), valid_window=1):
            self.refused["code"] += 1
            return html(views(buyer).mfa(buyer, ["The authentication code is incorrect or has expired."]))
        session.authenticated = True
        session.last_seen = self.clock.now()
        self.logins[buyer.slug] += 1
        return redirect(session.next_path or f"/{buyer.slug}/invoices")

    # --- the invoice form --------------------------------------------------------------------------------
    def _form_action(self, buyer: Buyer, session: Session, fields: dict[str, str], action: str) -> Reply:
        keep_header(session.draft, fields)
        draft, layout = session.draft, views(buyer)
        if action == "lookup_po":
            number = draft.header.get("po_number", "")
            if not number:
                return html(
                    layout.invoice_form(buyer, draft, ["Enter a purchase order number to look it up."])
                )
            po = buyer.purchase_order(number)
            if po is None:
                draft.po_found = None
                return html(layout.invoice_form(buyer, draft, [f"Purchase order {number} does not exist."]))
            draft.po_found = po.number
            notice = f"Purchase order {po.number} found: {len(po.lines)} lines."
            return html(layout.invoice_form(buyer, draft, notices=[notice]))
        if action == "add_line":
            line, errors = check_line(buyer, draft, fields)
            if line is None:
                return html(layout.invoice_form(buyer, draft, errors))
            draft.lines.append(line)
            return html(layout.invoice_form(buyer, draft, notices=[f"Line {len(draft.lines)} added."]))
        return html(layout.invoice_form(buyer, draft, [f"Unknown action {action!r}."]), 400)

    def _submit(
        self, buyer: Buyer, session: Session, fields: dict[str, str], files: dict[str, Upload]
    ) -> Reply:
        keep_header(session.draft, fields)
        draft, h, layout = session.draft, session.draft.header, views(buyer)
        taken = {i.number for i in self.invoices if i.buyer == buyer.slug}
        pdf = files.get("pdf")
        checked = check_invoice(buyer, draft, taken, pdf, layout.DATE_FORMAT, layout.DATE_HINT)
        if checked.errors:
            return html(layout.invoice_form(buyer, draft, checked.errors))
        invoice = PortalInvoice(
            reference=f"WP-{next(self._references):06d}",
            buyer=buyer.slug,
            number=h["invoice_number"],
            invoice_date=h["invoice_date"],
            po_number=h.get("po_number", ""),
            currency=h["currency"],
            lines=list(draft.lines),
            tax=checked.tax,
            charges=checked.charges,
            total=checked.total,
            submitted_at=self.clock.now(),
            submitted_by=session.username,
            timeline=[(self.clock.now(), "Submitted", None)],
            pdf=pdf.content if pdf else None,
            pdf_name=pdf.filename if pdf else None,
        )
        review(buyer, invoice)
        self.invoices.append(invoice)
        session.draft = Draft()
        return redirect(f"/{buyer.slug}/invoices/{invoice.reference}?created=1")

    # --- reading -----------------------------------------------------------------------------------------
    def _detail(self, buyer: Buyer, invoice: PortalInvoice, created: bool) -> Reply:
        status, reason, when = invoice.status_at(self.clock.now())
        return html(views(buyer).invoice_detail(buyer, invoice, status, reason, when, created))

    def _list(self, buyer: Buyer, request: Request) -> Reply:
        filters = {
            name: (request.param(name) or "").strip() for name in ("number", "status", "updated_since")
        }
        errors = []
        layout = views(buyer)
        since: datetime | None = None
        if filters["updated_since"]:
            try:
                since = datetime.strptime(filters["updated_since"], layout.TIMESTAMP).replace(
                    tzinfo=layout.ZONE
                )
            except ValueError:
                errors.append(f"Updated since must look like {layout.TIMESTAMP_HINT}.")
        now = self.clock.now()
        rows = []
        for invoice in self.invoices:
            if invoice.buyer != buyer.slug:
                continue
            status, _, when = invoice.status_at(now)
            if filters["number"] and invoice.number != filters["number"]:
                continue
            if filters["status"] and status != filters["status"]:
                continue
            if since is not None and when <= since:
                continue
            rows.append((when, invoice.reference, invoice, status))
        # Oldest change first (a change while paging moves to the end).
        rows.sort(key=lambda r: (r[0], r[1]), reverse=layout.NEWEST_FIRST)
        page, number, pages_count = page_of(rows, request.param("page"), self.config.page_size)
        shown = [(i, s, w) for w, _, i, s in page]
        return html(layout.invoice_list(buyer, shown, filters, number, pages_count, errors))
