"""The rules engine alone on a realistic customer rules file (~60 effective rules), issue 3.

    .venv/bin/python -m bench.rules_engine

Field, condition and check rules on the canonical invoice (compiled once per profile), per core, for
1, 10 and 200-line invoices. Target: >= 2,000 invoices/s/core at 10 lines. Pre-flight as a whole
(model + rules + render + document rules + DTD) is bench/preflight.py.

`rules/s` repeats the same invoices, so the rules meet values they have seen (rules/memo.py);
`new µs/invoice` is each of a stream of invoices evaluated once, every one with its own number and
line descriptions (units, part numbers, cost centres and dates repeat, as in AR data).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.invoices import NOW, invoices
from bench.timing import rate, report, target
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from rules.engine import compiled
from rules.loader import load_profile

REALISTIC = Path(__file__).parent / "realistic-coupa.yaml"
#: How many invoices the stream of new ones has, by lines per invoice.
NEW = {1: 2000, 10: 1000, 200: 60}


def main() -> None:
    profile = load_profile(REALISTIC, ConnectorRegistry().check_connection)
    rules = compiled(profile)
    rows = []
    for lines in (1, 10, 200):
        models = [Invoice.model_validate(r) for r in invoices(lines, count=20 if lines == 200 else 50)]
        assert not [v for v in rules.evaluate(models[0], NOW.date()) if v.blocking], (
            "the benchmark invoices must pass"
        )
        per_second = rate(lambda inv: rules.evaluate(inv, NOW.date()), models)
        stream = [Invoice.model_validate(r) for r in invoices(lines, count=len(models) + NEW[lines])]
        start = time.process_time()
        for invoice in stream[len(models) :]:  # the first ones are the invoices measured above
            rules.evaluate(invoice, NOW.date())
        new = (time.process_time() - start) / NEW[lines]
        rows.append(
            {
                "lines": lines,
                "rules/s": per_second,
                "µs/invoice": 1e6 / per_second,
                "new µs/invoice": new * 1e6,
                "target": ("ok" if per_second >= 2000 else "MISSED") if lines == 10 else "",
            }
        )
    print(f"rules file: {len(profile.rules)} effective rules; one core")
    report("rules_engine", rows, ["lines", "rules/s", "µs/invoice", "new µs/invoice", "target"])
    ten = next(row for row in rows if row["lines"] == 10)
    target("rules engine (60 rules) 10 lines", float(ten["rules/s"]), 2000, at_least=True, unit="/s")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
