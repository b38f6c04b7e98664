"""Pre-flight throughput per core, and its ratio to rendering alone (issue 9, item 1).

    PORTALHUB_CXML_REFS=../shared/refs/cxml PORTALHUB_PIDX_REFS=../shared/refs/pidx .venv/bin/python -m bench.preflight

Pre-flight is what the hub runs on every invoice before it may be sent: model validation of the raw
AR record + field/check rules + cXML render + parse + document (XPath) rules + DTD validation. It is
measured for 1, 10 and 200-line invoices on three rules files:
- `demo`: ACME's file from the demo (`fixtures/rules/acme-coupa.yaml` + the Coupa baseline), the
  size of the customer files the hub ships with;
- `realistic`: `bench/realistic-coupa.yaml`, 60 effective rules of every kind (patterns, lists,
  ranges, dates, per-line conditions, tax and total checks, XPath) — a heavily customised buyer;
- `pidx`: `bench/openinvoice-pidx.yaml`, an OpenInvoice buyer with the PIDX baseline: the PIDX 1.61
  renderer and the official Invoice XSD instead of cXML and its DTD (measured, no target).

The floor, "rendering alone with lxml": the cXML text written and parsed into an lxml tree — the
least the checks need (the DTD and the XPath rules run on an lxml tree). That is cheaper than
building the tree with lxml's element API, as the renderer did until issue 9, so the ratio is held to
a stricter floor than the one the target was set against.

Targets at 10 lines (issue 21): >= 2,000 invoices/s/core on `demo`, >= 1,200 on `realistic`;
pre-flight / floor <= 2 on both. Per core = per CPU second
of this process (bench/timing.py), so other work on the machine moves the figures little.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from lxml import etree

from bench.invoices import NOW, invoices
from bench.timing import rate, report, target
from connectors.base import ConnectorContext, Envelope, SchemaFiles
from hub.model import Invoice
from hub.preflight import PlaceholderSecrets, preflight
from hub.refs import cxml_refs_dir, pidx_invoice_xsd
from hub.registry import ConnectorRegistry
from rules.engine import compiled
from rules.loader import load_profile
from rules.schema import Profile

ROOT = Path(__file__).parent.parent
PROFILES = {
    "demo": ROOT / "fixtures" / "rules" / "acme-coupa.yaml",
    "realistic": ROOT / "bench" / "realistic-coupa.yaml",
    # PIDX for OpenInvoice and its XSD: measured, no target of its own (issue 21 names the cXML ones).
    "pidx": ROOT / "bench" / "openinvoice-pidx.yaml",
}
#: Invoices/s/core at 10 lines (issue 21); the whole pre-flight also <= 2x the render+parse floor.
TARGETS = {"demo": 2000.0, "realistic": 1200.0}


def measure(name: str, profile: Profile, schemas: SchemaFiles, lines: int) -> dict[str, object]:
    registry = ConnectorRegistry()
    connector = registry.get(profile.connector)(
        ConnectorContext(http=httpx.Client(), secrets=PlaceholderSecrets(), now=lambda: NOW)
    )
    envelope = Envelope(payload_id="bench@portalhub", timestamp=NOW, invoice_number="INV-1")
    rules = compiled(profile)
    raw = invoices(lines, count=20 if lines == 200 else 50)
    models = [Invoice.model_validate(r) for r in raw]
    first = preflight(models[0], profile, connector, schemas, NOW)
    assert first.passed, f"the benchmark invoices must pass {name}: {first.blocking}"
    documents = [connector.render(m, profile, envelope) for m in models]
    trees = [etree.fromstring(d.xml) for d in documents]

    # Each part alone (CPU µs per invoice), then the whole as the hub runs it.
    model_s = 1 / rate(Invoice.model_validate, raw)
    rules_s = 1 / rate(lambda m: rules.evaluate(m, NOW.date()), models)
    render_s = 1 / rate(lambda m: connector.render(m, profile, envelope).body, models)
    parse_s = 1 / rate(lambda d: etree.fromstring(d.xml), documents)
    checks_s = 1 / rate(
        lambda pair: rules.evaluate(pair[0], NOW.date(), pair[1]), list(zip(models, trees, strict=True))
    )
    dtd_s = 1 / rate(lambda d: connector.check_document(d, schemas), documents)
    floor = 1 / (render_s + parse_s)
    full = rate(lambda r: preflight(Invoice.model_validate(r), profile, connector, schemas, NOW), raw)
    ratio = floor / full
    return {
        "rules file": f"{name} ({len(profile.rules)})",
        "lines": lines,
        "model µs": model_s * 1e6,
        "rules µs": rules_s * 1e6,
        "render µs": render_s * 1e6,
        "parse µs": parse_s * 1e6,
        "xpath µs": checks_s * 1e6,
        "dtd µs": dtd_s * 1e6,
        "preflight/s": full,
        "floor/s": floor,
        "ratio": ratio,
        "target": ("ok" if full >= TARGETS[name] and ratio <= 2 else "MISSED")
        if lines == 10 and name in TARGETS
        else "",
    }


def main() -> None:
    refs = cxml_refs_dir()
    dtd = refs / "1.2.037" / "InvoiceDetail.dtd" if refs else None
    if dtd is None:
        print("note: no cXML DTDs (PORTALHUB_CXML_REFS): measured WITHOUT the DTD check", file=sys.stderr)
    xsd = pidx_invoice_xsd()
    if xsd is None:
        print("note: no PIDX XSD (PORTALHUB_PIDX_REFS): PIDX measured WITHOUT the XSD check", file=sys.stderr)
    schemas = {name: path for name, path in (("cxml_dtd", dtd), ("pidx_xsd", xsd)) if path is not None}
    registry = ConnectorRegistry()
    rows: list[dict[str, object]] = []
    for name, path in PROFILES.items():
        profile = load_profile(path, registry.check_connection)
        rows.extend(measure(name, profile, schemas, lines) for lines in (1, 10, 200))
    print(
        f"DTD check: {'on' if dtd else 'OFF'}, XSD check: {'on' if xsd else 'OFF'}; one core; "
        "µs are CPU µs per invoice for each part alone (dtd: the DTD or the XSD)"
    )
    report("preflight", rows, list(rows[0]))
    for row in rows:
        if row["lines"] == 10 and str(row["rules file"]).split(" ")[0] in TARGETS:
            name = str(row["rules file"]).split(" ")[0]
            target(
                f"preflight {row['rules file']} 10 lines",
                float(row["preflight/s"]),
                TARGETS[name],
                at_least=True,
                unit="/s",
            )  # type: ignore[arg-type]
            target(f"preflight {row['rules file']} 10 lines / render+parse floor", float(row["ratio"]), 2.0)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
