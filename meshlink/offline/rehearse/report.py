"""The rehearsal's evidence, for a reviewer (text) and for a pipeline (``--json``)."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Sequence
from typing import Any

from meshlink.offline.rehearse.results import CaseResult, Measurement, RehearsalReport


def to_json(report: RehearsalReport) -> str:
    data: dict[str, Any] = {"ok": report.ok, **dataclasses.asdict(report)}
    for link, raw in zip(report.links, data["links"], strict=True):
        raw["passed"] = link.passed
    return json.dumps(data, indent=2)


def _table(cases: Sequence[CaseResult]) -> list[str]:
    headers = ("side", "case", "expected", "result", "check")
    rows = [(c.side, c.case, c.expected, c.result, "PASS" if c.passed else "FAIL") for c in cases]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    out = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  " + "  ".join("-" * w for w in widths))
    for case, row in zip(cases, rows, strict=True):
        out.append("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
        out += textwrap.wrap(
            case.evidence, width=110, initial_indent="      why: ", subsequent_indent="           "
        )
    return out


def _measure(label: str, m: Measurement) -> str:
    return (
        f"  {label:<20} {m.ratio:5.2f}x   {m.subject} {m.subject_ms:.3f} ms vs "
        f"{m.baseline} {m.baseline_ms:.3f} ms\n{'':24}({m.method})"
    )


def to_text(report: RehearsalReport) -> str:
    out = [f"meshlink rehearse {report.render_dir}"]
    out.append("  " + "; ".join(f"{k}: {v}" for k, v in report.versions.items()))
    for link in report.links:
        out += [
            "",
            f"link {link.fqdn} (cluster {link.client_cluster!r} -> cluster "
            f"{link.server_cluster!r})",
            f"  origination  {link.destination_rule}: sni {link.sni}, "
            f"server names {link.server_names}, credential {link.client_secret}",
            f"  ingress      {link.gateway}: port {link.link_port}, min {link.min_version}, "
            f"client SANs {link.allowed_client_sans or 'any'}, credential {link.server_secret}",
            f"  target       {link.target} (via {link.virtual_service}), played by MariaDB",
            "  listeners    " + ", ".join(f"{k} 127.0.0.1:{v}" for k, v in link.listeners.items()),
        ]
        if link.positive is not None:
            state = "PASS" if link.positive.passed else "FAIL"
            out.append(f"  positive     {state}: {link.positive.detail}")
        out += ["", *_table(link.cases)]
        if link.notes:
            out += ["", "  notes:"] + [f"    - {n}" for n in link.notes]
    if report.timing is not None:
        t = report.timing
        out += [
            "",
            f"timing (one run, loopback, link {t.link}):",
            _measure("connection set-up", t.connection_setup),
            _measure("query latency", t.query_latency),
            _measure("TLS handshake", t.handshake),
        ]
    out += ["", "where HAProxy differs from the Istio gateways:"]
    for note in report.not_expressed:
        out += textwrap.wrap(note, width=100, initial_indent="  - ", subsequent_indent="    ")
    out += ["", "result: " + ("PASS" if report.ok else "FAIL")]
    return "\n".join(out)
