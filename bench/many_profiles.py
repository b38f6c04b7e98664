"""One daemon, many portals: are every portal's queues kept busy? (issue 21)

    PORTALHUB_CXML_REFS=../shared/refs/cxml .venv/bin/python -m bench.many_profiles [--profiles 20]

P profiles (P Coupa buyer instances in one sandbox, each answering after L = 50 ms, one request at a
time per portal), N invoices already read from AR and pre-flighted, the real daemon (`portalhub run`,
its own process, SQLite). The portals alone could take P / L sends per second; the hub alone can make
1 / (its CPU per send) per second on one core (measured here on one thread, as bench.end_to_end
does). Target: sends/s >= 90% of the lower of the two.
"""

from __future__ import annotations

import argparse

from bench.end_to_end import daemon_run, stage_cpu
from bench.timing import report, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=20)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--ingest-seconds",
        type=float,
        help="the daemon's ingest interval (default: the reliability scenario's 1 s; production's is 60 s)",
    )
    args = parser.parse_args()
    row, _ = daemon_run(
        args.invoices, args.latency, True, buyers=args.profiles, ingest_seconds=args.ingest_seconds
    )
    submit_ms = next(
        float(r["CPU ms/invoice"]) for r in stage_cpu(300) if str(r["step"]).startswith("submit")
    )  # type: ignore[arg-type]
    portal_limit = args.profiles / args.latency
    cpu_limit = 1000 / submit_ms
    sends = args.invoices / float(row["wall s"])  # type: ignore[arg-type]
    bound = min(portal_limit, cpu_limit)
    report(
        "many_profiles",
        [
            {
                "profiles": args.profiles,
                "invoices": args.invoices,
                "latency ms": args.latency * 1000,
                "wall s": row["wall s"],
                "sends/s": sends,
                "portal limit/s": portal_limit,
                "CPU limit/s": cpu_limit,
                "of the lower": sends / bound,
                "daemon CPU ms/send": row.get("daemon CPU ms/send"),
            }
        ],
        [
            "profiles",
            "invoices",
            "latency ms",
            "wall s",
            "sends/s",
            "portal limit/s",
            "CPU limit/s",
            "of the lower",
            "daemon CPU ms/send",
        ],
    )
    target(
        f"{args.profiles} profiles at {round(args.latency * 1000)} ms: sends/s",
        sends,
        0.9 * bound,
        at_least=True,
        unit="/s",
    )


if __name__ == "__main__":
    main()
