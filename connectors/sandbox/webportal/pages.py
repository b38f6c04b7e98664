"""The sandbox web portal's HTML: plain, accessible markup (a label on every input, named buttons,
alerts in `role="alert"`, notices in `role="status"`), the way a well-built supplier portal looks to a
screen reader, which is also how role/label selectors see it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from connectors.sandbox.webportal.config import Buyer, PurchaseOrder
from connectors.sandbox.webportal.state import Draft, PortalInvoice

STATUSES = ("Submitted", "Approved", "Paid", "Rejected", "Disputed")
#: How this layout writes dates and instants, and the time zone of its instants.
DATE_FORMAT, DATE_HINT = "%Y-%m-%d", "YYYY-MM-DD"
TIMESTAMP, TIMESTAMP_HINT = "%Y-%m-%d %H:%M:%S", "YYYY-MM-DD HH:MM:SS"
ZONE = UTC
NEWEST_FIRST = False  # the invoice list's order
_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:60em}label{display:inline-block;min-width:11em}"
    "fieldset{margin:.8em 0}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;"
    "padding:.2em .5em}[role=alert]{color:#a00;border:1px solid #a00;padding:.3em}"
    "[role=status]{color:#060}p{margin:.4em 0}"
)


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def page(buyer: Buyer, title: str, body: str, signed_in: bool = False) -> bytes:
    nav = (
        f'<nav aria-label="Portal"><a href="/{buyer.slug}/invoices">Invoices</a> | '
        f'<a href="/{buyer.slug}/invoices/new">New invoice</a> | '
        f'<a href="/{buyer.slug}/logout">Sign out</a></nav>'
        if signed_in
        else ""
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} - '
        f"{esc(buyer.name)} supplier portal</title><style>{_STYLE}</style></head><body>"
        f"<header><p>{esc(buyer.name)} supplier portal</p>{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    ).encode()


def messages(errors: Sequence[str] = (), notices: Sequence[str] = ()) -> str:
    html = ""
    if errors:
        items = "".join(f"<li>{esc(e)}</li>" for e in errors)
        html += f'<div role="alert"><p>Please correct the following:</p><ul>{items}</ul></div>'
    for notice in notices:
        html += f'<p role="status">{esc(notice)}</p>'
    return html


def field(name: str, label: str, value: str = "", kind: str = "text", extra: str = "") -> str:
    return (
        f'<p><label for="{name}">{esc(label)}</label> '
        f'<input id="{name}" name="{name}" type="{kind}" value="{esc(value)}"{extra}></p>'
    )


def login(
    buyer: Buyer,
    username: str = "",
    errors: Sequence[str] = (),
    notices: Sequence[str] = (),
    next_path: str | None = None,
) -> bytes:
    target = f"/{buyer.slug}/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    body = messages(errors, notices) + (
        f'<form method="post" action="{esc(target)}">'
        + field("username", "User name", username, extra=' autocomplete="username"')
        + field("password", "Password", kind="password", extra=' autocomplete="current-password"')
        + '<p><button type="submit">Sign in</button></p></form>'
    )
    return page(buyer, "Sign in", body)


def mfa(buyer: Buyer, errors: Sequence[str] = ()) -> bytes:
    body = messages(errors) + (
        "<p>Enter the 6-digit code from your authenticator app.</p>"
        f'<form method="post" action="/{buyer.slug}/mfa">'
        + field("code", "Authentication code", extra=' inputmode="numeric" autocomplete="one-time-code"')
        + '<p><button type="submit">Verify</button></p></form>'
    )
    return page(buyer, "Two-step verification", body)


def _select(name: str, label: str, options: Iterable[str], chosen: str) -> str:
    opts = "".join(
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o or "Any")}</option>'
        for o in options
    )
    return (
        f'<p><label for="{name}">{esc(label)}</label> <select id="{name}" name="{name}">{opts}</select></p>'
    )


def _po_lines(po: PurchaseOrder) -> str:
    rows = "".join(
        f"<tr><td>{line.line}</td><td>{esc(line.part)}</td><td>{esc(line.description)}</td>"
        f"<td>{line.quantity}</td><td>{esc(line.uom)}</td><td>{line.unit_price}</td></tr>"
        for line in po.lines
    )
    return (
        f"<table><caption>Lines of {esc(po.number)}</caption><thead><tr><th>PO line</th><th>Part</th>"
        f"<th>Description</th><th>Quantity</th><th>Unit</th><th>Unit price</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def invoice_form(
    buyer: Buyer, draft: Draft, errors: Sequence[str] = (), notices: Sequence[str] = ()
) -> bytes:
    h = draft.header
    po = buyer.purchase_order(draft.po_found) if draft.po_found else None
    lines = "".join(
        f"<tr><td>{n}</td><td>{line.po_line or ''}</td><td>{esc(line.part)}</td><td>{esc(line.description)}</td>"
        f"<td>{line.quantity}</td><td>{esc(line.uom)}</td><td>{line.unit_price}</td><td>{line.amount}</td>"
        f"<td>{esc(line.afe)}</td></tr>"
        for n, line in enumerate(draft.lines, 1)
    )
    body = messages(errors, notices) + (
        f'<form method="post" action="/{buyer.slug}/invoices/new" enctype="multipart/form-data">'
        "<fieldset><legend>Invoice</legend>"
        + field("invoice_number", "Invoice number", h.get("invoice_number", ""))
        + field("invoice_date", "Invoice date", h.get("invoice_date", ""), kind="date")
        + _select("currency", "Currency", buyer.currencies, h.get("currency", buyer.currencies[0]))
        + field("po_number", "PO number", h.get("po_number", ""))
        + '<p><button type="submit" name="action" value="lookup_po">Look up PO</button></p>'
        + (_po_lines(po) if po is not None else "")
        + "</fieldset><fieldset><legend>Add a line</legend>"
        + field("line_po_line", "PO line", kind="number")
        + field("line_part", "Part number")
        + field("line_description", "Description")
        + field("line_quantity", "Quantity")
        + field("line_uom", "Unit")
        + field("line_unit_price", "Unit price")
        + field("line_afe", "AFE number")
        + '<p><button type="submit" name="action" value="add_line">Add line</button></p></fieldset>'
        + "<table><caption>Invoice lines</caption><thead><tr><th>#</th><th>PO line</th><th>Part</th>"
        "<th>Description</th><th>Quantity</th><th>Unit</th><th>Unit price</th><th>Amount</th><th>AFE</th>"
        f"</tr></thead><tbody>{lines}</tbody></table>"
        + "<fieldset><legend>Totals and attachment</legend>"
        + field("tax", "Tax amount", h.get("tax", ""))
        + field("charges", "Other charges", h.get("charges", ""))
        + field("total", "Invoice total", h.get("total", ""))
        + field("pdf", "Invoice PDF", kind="file", extra=' accept="application/pdf"')
        + f'<p><label for="comments">Comments</label> <textarea id="comments" name="comments">'
        f"{esc(h.get('comments', ''))}</textarea></p></fieldset>"
        f'<p><button type="submit" formaction="/{buyer.slug}/invoices/submit">Submit invoice</button></p>'
        "</form>"
    )
    return page(buyer, "New invoice", body, signed_in=True)


def invoice_list(
    buyer: Buyer,
    rows: Sequence[tuple[PortalInvoice, str, datetime]],  # invoice, status, updated
    filters: dict[str, str],
    page_number: int,
    pages: int,
    errors: Sequence[str] = (),
) -> bytes:
    body_rows = "".join(
        f'<tr><td><a href="/{buyer.slug}/invoices/{esc(i.reference)}">{esc(i.number)}</a></td>'
        f"<td>{esc(i.reference)}</td><td>{esc(status)}</td><td>{i.total} {esc(i.currency)}</td>"
        f"<td>{updated.astimezone(ZONE):{TIMESTAMP}}</td></tr>"
        for i, status, updated in rows
    )
    query = esc(urlencode({k: v for k, v in filters.items() if v}))
    links = []
    if page_number > 1:
        links.append(f'<a href="?{query}&page={page_number - 1}">Previous page</a>')
    if page_number < pages:
        links.append(f'<a href="?{query}&page={page_number + 1}" rel="next">Next page</a>')
    body = messages(errors) + (
        f'<form method="get" action="/{buyer.slug}/invoices" role="search">'
        + field("number", "Invoice number", filters.get("number", ""))
        + _select("status", "Status", ("", *STATUSES), filters.get("status", ""))
        + field(
            "updated_since",
            "Updated since (UTC)",
            filters.get("updated_since", ""),
            extra=' placeholder="YYYY-MM-DD HH:MM:SS"',
        )
        + '<p><button type="submit">Search</button></p></form>'
        + "<table><caption>Invoices</caption><thead><tr><th>Invoice number</th><th>Reference</th>"
        f"<th>Status</th><th>Total</th><th>Updated (UTC)</th></tr></thead><tbody>{body_rows}</tbody></table>"
        + ("" if rows else "<p>No invoices match.</p>")
        + f'<nav aria-label="Pages"><p>Page {page_number} of {pages}</p>{" ".join(links)}</nav>'
    )
    return page(buyer, "Invoices", body, signed_in=True)


def invoice_detail(
    buyer: Buyer, invoice: PortalInvoice, status: str, reason: str | None, updated: datetime, created: bool
) -> bytes:
    notice = [f"Invoice {invoice.number} was submitted. Reference: {invoice.reference}"] if created else []
    terms = [
        ("Reference", invoice.reference),
        ("Invoice number", invoice.number),
        ("Status", status),
        ("Updated (UTC)", f"{updated.astimezone(ZONE):{TIMESTAMP}}"),
        ("Invoice date", invoice.invoice_date),
        ("Purchase order", invoice.po_number),
        ("Total", f"{invoice.total} {invoice.currency}"),
    ]
    if reason:
        terms.append(("Reason", reason))
    pdf = (
        f'<p><a href="/{buyer.slug}/invoices/{esc(invoice.reference)}/pdf">{esc(invoice.pdf_name)}</a> '
        f"({len(invoice.pdf)} bytes)</p>"
        if invoice.pdf is not None
        else "<p>No PDF attached.</p>"
    )
    body = (
        messages(notices=notice)
        + "<dl>"
        + "".join(f"<dt>{esc(term)}</dt><dd>{esc(value)}</dd>" for term, value in terms)
        + "</dl>"
        + pdf
    )
    return page(buyer, f"Invoice {invoice.number}", body, signed_in=True)
