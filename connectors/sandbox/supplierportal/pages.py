"""The sandbox supplier portal's pages, as its browser users see them: a one-time-code page after the
password, a dashboard, a two-step invoice wizard at the draft's own address (details, then lines
grown by a script), errors printed beside the field or line they are about, a paged invoice list
with 12-hour local times, and detail pages with the rejection reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from connectors.sandbox.supplierportal.config import PurchaseOrder, SupplierPortalConfig
from connectors.sandbox.supplierportal.state import Draft, Invoice

LIST_TIME = "%m/%d/%Y %I:%M %p"  # 12-hour, local, no seconds: "12/06/2026 03:04 PM"
_STYLE = (
    "body{font:14px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9}"
    ".top{background:#0b3d5c;color:#fff;padding:.5em 1.5em;display:flex;gap:1.5em}.top a{color:#fff}"
    "main{max-width:1100px;margin:1em auto;background:#fff;padding:1.5em}"
    ".field{margin:.6em 0}.field label{display:block;font-weight:600}"
    ".field-error{color:#b00020;display:block;font-size:.9em}.banner{padding:.6em;margin:.5em 0}"
    ".banner.error{background:#fde7ea}.banner.ok{background:#e6f4ea}table{border-collapse:collapse}"
    "td,th{padding:.25em .5em;border-bottom:1px solid #ddd;text-align:left}"
)
#: Line inputs: name suffix, what the input is called, kind.
LINE_INPUTS = (
    ("po_line", "PO line", "number"),
    ("description", "Description", "text"),
    ("quantity", "Quantity", "text"),
    ("uom", "UOM", "select"),
    ("unit_price", "Unit price", "text"),
)


def shell(config: SupplierPortalConfig, title: str, body: str, signed_in: bool = True) -> bytes:
    nav = (
        '<a href="/dashboard">Dashboard</a><a href="/invoices">Invoices</a><a href="/logout">Sign out</a>'
        if signed_in
        else ""
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | '
        f"{escape(config.buyer)} Supplier Portal</title><style>{_STYLE}</style></head><body>"
        f'<div class="top"><strong>{escape(config.buyer)} Supplier Portal</strong>{nav}</div>'
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    ).encode()


def _input(
    name: str, label: str, value: str = "", error: str | None = None, kind: str = "text", hint: str = ""
) -> str:
    described = f' aria-describedby="{name}-error" aria-invalid="true"' if error else ""
    placeholder = f' placeholder="{escape(hint)}"' if hint else ""
    message = f'<span class="field-error" id="{name}-error">{escape(error)}</span>' if error else ""
    return (
        f'<div class="field"><label for="{name}">{escape(label)}</label>'
        f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}"{placeholder}{described}>'
        f"{message}</div>"
    )


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str, error: str | None) -> str:
    items = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen and value else ""}>{escape(text)}</option>'
        for value, text in options
    )
    described = f' aria-describedby="{name}-error" aria-invalid="true"' if error else ""
    message = f'<span class="field-error" id="{name}-error">{escape(error)}</span>' if error else ""
    return (
        f'<div class="field"><label for="{name}">{escape(label)}</label>'
        f'<select id="{name}" name="{name}"{described}>{items}</select>{message}</div>'
    )


def sign_in(
    config: SupplierPortalConfig, email: str = "", error: str | None = None, next_path: str = ""
) -> bytes:
    banner = f'<div class="banner error" role="alert">{escape(error)}</div>' if error else ""
    target = "/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    body = (
        banner
        + f'<form method="post" action="{escape(target)}">'
        + _input("email", "Email address", email, kind="email")
        + _input("password", "Password", kind="password")
        + '<button type="submit">Sign in</button></form>'
    )
    return shell(config, "Sign in", body, signed_in=False)


def one_time_code(config: SupplierPortalConfig, error: str | None = None) -> bytes:
    banner = f'<div class="banner error" role="alert">{escape(error)}</div>' if error else ""
    body = (
        banner
        + "<p>Enter the 6-digit code from your authenticator app.</p>"
        + '<form method="post" action="/verify">'
        + _input("otp", "One-time code", hint="123456")
        + '<button type="submit">Verify code</button></form>'
    )
    return shell(config, "Two-step verification", body, signed_in=False)


def dashboard(config: SupplierPortalConfig, email: str, open_drafts: int) -> bytes:
    body = (
        f"<p>Signed in as {escape(email)}.</p>"
        f"<p>{open_drafts} draft invoice(s) not yet submitted.</p>"
        '<form method="post" action="/drafts"><button type="submit">Create Invoice</button></form>'
    )
    return shell(config, "Dashboard", body)


def details(
    config: SupplierPortalConfig,
    draft: Draft,
    found: Sequence[PurchaseOrder] | None,
    query: str,
    errors: Mapping[str, str],
) -> bytes:
    """Step 1: search the PO, choose it from the results, number, date, currency, "Next: Lines"."""
    search_error = None
    if found is not None and not found:
        search_error = f"No open purchase order matches “{query}”."
    options = [("", "Search for a purchase order first" if found is None else "Choose a purchase order")]
    chosen = config.purchase_order(draft.po or "")
    shown = list(found or [])
    if chosen is not None and chosen not in shown:
        shown.insert(0, chosen)
    options += [(po.number, po.option) for po in shown]
    currencies = [("", "Choose…")] + [(code, f"{code} - {name}") for code, name in config.currencies.items()]
    body = (
        "<p>Step 1 of 2: invoice details</p>"
        + f'<form method="get" action="/drafts/{draft.id}/details" role="search">'
        + _input("q", "Search purchase orders", query, search_error)
        + '<button type="submit">Find</button></form>'
        + f'<form method="post" action="/drafts/{draft.id}/details">'
        + _select("po", "Purchase order", options, draft.po or "", errors.get("po"))
        + _input("invoice_number", "Invoice number", draft.number, errors.get("invoice_number"))
        + _input(
            "invoice_date", "Invoice date", draft.invoice_date, errors.get("invoice_date"), hint="MM/DD/YYYY"
        )
        + _select("currency", "Currency", currencies, draft.currency, errors.get("currency"))
        + '<button type="submit">Next: Lines</button></form>'
    )
    return shell(config, f"New invoice (draft {draft.id})", body)


def _line_cells(config: SupplierPortalConfig, n: int, row: Mapping[str, str]) -> str:
    cells = []
    for key, label, kind in LINE_INPUTS:
        name, value = f"lines-{n}-{key}", row.get(key, "")
        if kind == "select":
            options = '<option value="">Choose…</option>' + "".join(
                f'<option value="{escape(code)}"{" selected" if code == value else ""}>{escape(text)}</option>'
                for code, text in config.uoms.items()
            )
            cells.append(f'<td><select name="{name}" aria-label="{label}">{options}</select></td>')
        else:
            cells.append(f'<td><input name="{name}" aria-label="{label}" value="{escape(value)}"></td>')
    return "".join(cells)


# Grows the lines table in the page: a new row named "Line <n>", inputs cloned from the template.
_ADD_LINE = """<script>
document.getElementById("add-line").addEventListener("click", () => {
  const body = document.getElementById("line-rows");
  const n = body.querySelectorAll("tr.line").length + 1;
  const row = document.getElementById("line-template").content.firstElementChild.cloneNode(true);
  row.setAttribute("aria-label", "Line " + n);
  row.querySelector("th").textContent = n;
  row.querySelectorAll("[name]").forEach((el) => { el.name = el.name.replace("__n__", n); });
  setTimeout(() => body.appendChild(row), 150);  // as a real page does after its own work
});
</script>"""


def lines(
    config: SupplierPortalConfig,
    draft: Draft,
    rows: Mapping[int, Mapping[str, str]],
    line_errors: Mapping[int, Sequence[str]],
    errors: Mapping[str, str],
    values: Mapping[str, str],
) -> bytes:
    """Step 2: the lines table (an "Add line" button adds rows in the page), tax, freight, total,
    the PDF, Submit; messages beside their line or field."""
    po = config.purchase_order(draft.po or "")
    body_rows = []
    for n, row in rows.items():
        body_rows.append(
            f'<tr class="line" aria-label="Line {n}"><th scope="row">{n}</th>{_line_cells(config, n, row)}</tr>'
        )
        for message in line_errors.get(n, ()):
            body_rows.append(
                f'<tr class="line-error"><td></td><td colspan="5"><span class="field-error">Line {n}: '
                f"{escape(message)}</span></td></tr>"
            )
    heads = "".join(f"<th>{escape(label)}</th>" for _, label, _ in LINE_INPUTS)
    template = (
        f'<template id="line-template"><tr class="line"><th scope="row"></th>'
        f"{_line_cells(config, 0, {}).replace('lines-0-', 'lines-__n__-')}</tr></template>"
    )
    body = (
        f"<p>Step 2 of 2: lines. PO {escape(po.number if po else '?')} · invoice {escape(draft.number)}</p>"
        + f'<form method="post" action="/submit/{draft.id}" enctype="multipart/form-data">'
        + f'<table aria-label="Invoice lines"><thead><tr><th>#</th>{heads}</tr></thead>'
        + f'<tbody id="line-rows">{"".join(body_rows)}</tbody></table>'
        + template
        + '<p><button type="button" id="add-line">Add line</button></p>'
        + (
            f'<span class="field-error" id="lines-error">{escape(errors["lines"])}</span>'
            if "lines" in errors
            else ""
        )
        + _input("tax", "Sales tax", values.get("tax", ""), errors.get("tax"))
        + _input("freight", "Freight", values.get("freight", ""), errors.get("freight"))
        + _input("total", "Invoice total", values.get("total", ""), errors.get("total"))
        + _input("pdf", "Invoice PDF", error=errors.get("pdf"), kind="file")
        + '<button type="submit">Submit</button></form>'
        + _ADD_LINE
    )
    return shell(config, f"New invoice (draft {draft.id})", body)


def invoice_list(
    config: SupplierPortalConfig,
    rows: Sequence[tuple[Invoice, str, datetime]],
    query: str,
    page: int,
    pages: int,
) -> bytes:
    zone = ZoneInfo(config.timezone)
    cells = (
        "".join(
            f'<tr><td><a href="/invoices/{escape(i.id)}">{escape(i.number)}</a></td><td>{escape(i.po)}</td>'
            f"<td>{escape(i.invoice_date)}</td><td>{i.total:,} {escape(i.currency)}</td><td>{escape(status)}</td>"
            f"<td>{when.astimezone(zone):{LIST_TIME}}</td></tr>"
            for i, status, when in rows
        )
        or '<tr><td colspan="6" class="empty">No invoices match your search.</td></tr>'
    )
    link = lambda n, text: f'<a href="/invoices?{escape(urlencode({"q": query, "page": n}))}">{text}</a>'  # noqa: E731
    paging = (
        (link(page - 1, "&lsaquo; Previous") + " " if page > 1 else "")
        + f"Page {page} of {pages}"
        + (" " + link(page + 1, "Next &rsaquo;") if page < pages else "")
    )
    body = (
        '<form method="get" action="/invoices" role="search">'
        + _input("q", "Search invoices", query)
        + '<button type="submit">Search</button></form>'
        + '<table aria-label="Invoices"><thead><tr><th>Invoice #</th><th>PO</th><th>Invoice date</th>'
        f"<th>Amount</th><th>Status</th><th>Last updated</th></tr></thead><tbody>{cells}</tbody></table>"
        + f'<nav aria-label="Pages">{paging}</nav>'
    )
    return shell(config, "Invoices", body)


def invoice_page(
    config: SupplierPortalConfig, invoice: Invoice, status: str, reason: str | None, submitted: bool
) -> bytes:
    banner = (
        f'<div class="banner ok" role="status">Invoice {escape(invoice.number)} was submitted. '
        f"Confirmation number: {escape(invoice.id)}</div>"
        if submitted
        else ""
    )
    items = [
        ("Invoice #", invoice.number),
        ("Confirmation number", invoice.id),
        ("Purchase order", invoice.po),
        ("Amount", f"{invoice.total:,} {invoice.currency}"),
        ("Status", status),
    ]
    if reason:
        items.append(("Rejection reason" if status == "Rejected" else "Hold reason", reason))
    listing = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return shell(config, f"Invoice {invoice.number}", banner + f"<dl>{listing}</dl>")


def not_found(config: SupplierPortalConfig, signed_in: bool) -> bytes:
    return shell(config, "Not found", "<p>The page you asked for does not exist.</p>", signed_in)
