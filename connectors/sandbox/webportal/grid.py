"""The second layout of the sandbox web portal (a buyer's `layout: grid`): the same portal behind it, built
differently in every way a recipe has to describe, so that a second recipe
(fixtures/rules/recipes/sandbox-webportal-grid.yaml) drives it with no change to the connector's code.

Against the classic layout (pages.py): other labels and button names; errors as a named list, the
sign-in's in a lone alert; no PO lookup; lines as rows of a table that a script adds in the page
itself (no round trip), every input named after its line ("Line 2 quantity"); US dates; the
confirmation in plain text; the list's columns, status words, instants (US format, Central time),
order (newest first) and paging of its own; the reason in a row of a details table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from connectors.sandbox.webportal.config import Buyer
from connectors.sandbox.webportal.pages import field
from connectors.sandbox.webportal.state import Draft, DraftLine, PortalInvoice

DATE_FORMAT, DATE_HINT = "%m/%d/%Y", "MM/DD/YYYY"
TIMESTAMP, TIMESTAMP_HINT = "%m/%d/%Y %I:%M:%S %p", "MM/DD/YYYY HH:MM:SS AM"
ZONE = ZoneInfo("America/Chicago")
NEWEST_FIRST = True  # the invoice list's order
#: The portal's internal statuses, as this buyer's AP team words them.
WORDS = {
    "Submitted": "In approval",
    "Approved": "Approved for payment",
    "Paid": "Paid",
    "Rejected": "Returned to supplier",
    "Disputed": "On hold - price query",
}
#: Line inputs: form name suffix -> what their label says after "Line <n>".
LINE_INPUTS = (
    ("po_line", "PO line"),
    ("part", "item"),
    ("description", "description"),
    ("quantity", "quantity"),
    ("uom", "unit of measure"),
    ("unit_price", "unit price"),
    ("afe", "AFE"),
)
_STYLE = (
    "body{font:15px/1.4 Georgia,serif;margin:0}header{background:#123;color:#fff;padding:.6em 1em}"
    "header a{color:#fff}main{padding:1em}table{border-collapse:collapse}td,th{padding:.2em .4em;"
    "border-bottom:1px solid #ccc;text-align:left}input{width:8em}.problems{background:#fee;padding:.5em}"
)
# Adds an empty line row in the page; nothing is sent until the invoice is.
_ADD_LINE = (
    "<script>const INPUTS=" + str([list(pair) for pair in LINE_INPUTS]).replace("'", '"') + ";"
    "document.getElementById('add-line').addEventListener('click',()=>{"
    "const rows=document.getElementById('line-rows');const n=rows.rows.length+1;const row=rows.insertRow();"
    "const head=document.createElement('th');head.scope='row';head.textContent='Line '+n;row.appendChild(head);"
    "for(const [key,label] of INPUTS){const input=document.createElement('input');"
    "input.name='line_'+n+'_'+key;input.setAttribute('aria-label','Line '+n+' '+label);"
    "row.insertCell().appendChild(input);}});</script>"
)


def status_word(status: str) -> str:
    return WORDS.get(status, status)


def page(buyer: Buyer, title: str, body: str, signed_in: bool = False) -> bytes:
    nav = (
        f'<nav><a href="/{buyer.slug}/invoices">My invoices</a> · <a href="/{buyer.slug}/invoices/new">'
        f'Send an invoice</a> · <a href="/{buyer.slug}/logout">Log out</a></nav>'
        if signed_in
        else ""
    )
    return (
        f'<!doctype html><html lang="en-US"><head><meta charset="utf-8"><title>{escape(buyer.name)} · '
        f"{escape(title)}</title><style>{_STYLE}</style></head><body><header><strong>{escape(buyer.name)}"
        f"</strong> Vendor Center {nav}</header><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    ).encode()


def _problems(errors: Sequence[str]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{escape(e)}</li>" for e in errors)
    return f'<div class="problems"><h2>We could not accept this invoice</h2><ul aria-label="Problems">{items}</ul></div>'


def _alert(errors: Sequence[str]) -> str:
    return "".join(f'<p role="alert">{escape(e)}</p>' for e in errors)


def login(
    buyer: Buyer,
    username: str = "",
    errors: Sequence[str] = (),
    notices: Sequence[str] = (),
    next_path: str | None = None,
) -> bytes:
    target = f"/{buyer.slug}/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    body = (
        _alert(errors)
        + "".join(f"<p>{escape(n)}</p>" for n in notices)
        + f'<form method="post" action="{escape(target)}">'
        + field("username", "Email or user ID", username)
        + field("password", "Password", kind="password")
        + '<p><button type="submit">Log in</button></p></form>'
    )
    return page(buyer, "Log in", body)


def mfa(buyer: Buyer, errors: Sequence[str] = ()) -> bytes:
    body = (
        _alert(errors)
        + f'<form method="post" action="/{buyer.slug}/mfa">'
        + field("code", "Security code", extra=' inputmode="numeric"')
        + '<p><button type="submit">Continue</button></p></form>'
    )
    return page(buyer, "Confirm it is you", body)


def _line_row(n: int, line: DraftLine) -> str:
    values = {
        "po_line": line.po_line or "",
        "part": line.part,
        "description": line.description,
        "quantity": line.quantity,
        "uom": line.uom,
        "unit_price": line.unit_price,
        "afe": line.afe,
    }
    cells = "".join(
        f'<td><input name="line_{n}_{key}" aria-label="Line {n} {label}" value="{escape(str(values[key]))}"></td>'
        for key, label in LINE_INPUTS
    )
    return f'<tr><th scope="row">Line {n}</th>{cells}</tr>'


def invoice_form(
    buyer: Buyer, draft: Draft, errors: Sequence[str] = (), notices: Sequence[str] = ()
) -> bytes:
    h = draft.header
    heads = "".join(f"<th>{escape(label.capitalize())}</th>" for _, label in LINE_INPUTS)
    body = (
        _problems(errors)
        + "".join(f"<p>{escape(n)}</p>" for n in notices)
        + f'<form method="post" action="/{buyer.slug}/invoices/submit" enctype="multipart/form-data">'
        + f'<input type="hidden" name="currency" value="{escape(buyer.currencies[0])}">'
        + field("invoice_number", "Invoice no.", h.get("invoice_number", ""))
        + field("invoice_date", "Invoice date (MM/DD/YYYY)", h.get("invoice_date", ""))
        + field("po_number", "Purchase order", h.get("po_number", ""))
        + f'<table aria-label="Lines"><thead><tr><th>#</th>{heads}</tr></thead><tbody id="line-rows">'
        + "".join(_line_row(n, line) for n, line in enumerate(draft.lines, 1))
        + '</tbody></table><p><button type="button" id="add-line">Add a line</button></p>'
        + field("tax", "Sales tax", h.get("tax", ""))
        + field("charges", "Freight and other charges", h.get("charges", ""))
        + field("total", "Total amount", h.get("total", ""))
        + field("pdf", "Attach invoice (PDF)", kind="file")
        + field("comments", "Notes", h.get("comments", ""))
        + '<p><button type="submit">Send invoice</button></p></form>'
        + _ADD_LINE
    )
    return page(buyer, "Send an invoice", body, signed_in=True)


def invoice_list(
    buyer: Buyer,
    rows: Sequence[tuple[PortalInvoice, str, datetime]],  # invoice, status, updated
    filters: dict[str, str],
    page_number: int,
    pages: int,
    errors: Sequence[str] = (),
) -> bytes:
    body_rows = "".join(
        f'<tr><td><a href="/{buyer.slug}/invoices/{escape(i.reference)}">{escape(i.number)}</a></td>'
        f"<td>{escape(i.reference)}</td><td>{escape(status_word(status))}</td>"
        f"<td>{updated.astimezone(ZONE):{TIMESTAMP}}</td></tr>"
        for i, status, updated in rows
    )
    query = escape(urlencode({k: v for k, v in filters.items() if v}))
    older = f'<a href="?{query}&page={page_number + 1}">Older invoices</a>' if page_number < pages else ""
    body = (
        _problems(errors)
        + f'<form method="get" action="/{buyer.slug}/invoices">'
        + field("number", "Search invoice no.", filters.get("number", ""))
        + field("updated_since", "Changed after (Central time)", filters.get("updated_since", ""))
        + '<p><button type="submit">Apply filters</button></p></form>'
        + '<table aria-label="Your invoices"><thead><tr><th>Invoice no.</th><th>Document</th><th>State</th>'
        f"<th>Last change (Central time)</th></tr></thead><tbody>{body_rows}</tbody></table>"
        + f"<p>{older}</p>"
    )
    return page(buyer, "My invoices", body, signed_in=True)


def invoice_detail(
    buyer: Buyer, invoice: PortalInvoice, status: str, reason: str | None, updated: datetime, created: bool
) -> bytes:
    thanks = (
        f"<p>Thank you. Invoice {escape(invoice.number)} was received as document "
        f"<strong>{escape(invoice.reference)}</strong>.</p>"
        if created
        else ""
    )
    rows = [
        ("Document", invoice.reference),
        ("Invoice no.", invoice.number),
        ("State", status_word(status)),
        ("Last change", f"{updated.astimezone(ZONE):{TIMESTAMP}}"),
        ("Purchase order", invoice.po_number),
        ("Total amount", f"{invoice.total} {invoice.currency}"),
    ]
    if reason:
        rows.append(("Reason from buyer", reason))
    table = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows)
    return page(
        buyer,
        f"Invoice {invoice.number}",
        thanks + f'<table aria-label="Invoice details">{table}</table>',
        signed_in=True,
    )
