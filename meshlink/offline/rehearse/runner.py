"""The rehearsal itself: MariaDB behind two HAProxies configured from the render, the
positive check, the negative cases, and the timing."""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshlink.offline.rehearse import pki, timing
from meshlink.offline.rehearse.decoys import egress_cases
from meshlink.offline.rehearse.layout import Layout, haproxy_configs, link_notes, running_haproxy
from meshlink.offline.rehearse.minting import mint_negatives
from meshlink.offline.rehearse.negatives import ingress_cases
from meshlink.offline.rehearse.other_clients import (
    ClientCertificate,
    client_certificates,
    other_client_cases,
)
from meshlink.offline.rehearse.partner import PartnerLayout, rehearse_partner, running_stand_ins
from meshlink.offline.rehearse.partner_plan import (
    PartnerPlan,
    StandIn,
    partner_hosts,
    plan_partner_links,
)
from meshlink.offline.rehearse.positive import ROWS, positive_check
from meshlink.offline.rehearse.probes import LogWatch
from meshlink.offline.rehearse.processes import MariaDB, Tools, find_tools, free_ports, run_command
from meshlink.offline.rehearse.render import Render, load_render
from meshlink.offline.rehearse.results import (
    CaseResult,
    LinkResult,
    Measurement,
    PositiveResult,
    RehearsalReport,
    TimingResult,
)
from meshlink.offline.rehearse.target_cases import target_cases
from meshlink.offline.rehearse.target_plan import TargetStandInPlan, plan_target_stand_ins
from meshlink.offline.rehearse.wiring import LinkPlan, WiringError, plan_links

__all__ = [
    "ROWS",
    "CaseResult",
    "LinkResult",
    "Measurement",
    "PositiveResult",
    "RehearsalReport",
    "TimingResult",
    "measure",
    "mint_negatives",
    "positive_check",
    "rehearse",
]

NOT_EXPRESSED = [
    "Gateway subjectAltNames (allowed client identities): HAProxy 2.6 has no fetch for a "
    "client certificate's SANs, so a Lua action reads them from ssl_c_der and closes a "
    "connection whose SANs are not allowed right after the handshake, before any byte is "
    "forwarded. Envoy refuses during the handshake, with a TLS alert.",
    "DestinationRule subjectAltNames: HAProxy's verifyhost checks one DNS name (wildcards in "
    "the certificate allowed); Envoy accepts a match with any listed name, of any SAN type.",
    "TLS library: HAProxy and the probes use OpenSSL; Envoy uses BoringSSL, whose default "
    "cipher suites, curves and alert codes differ.",
    "Not rehearsed: the mesh-CA hops (sidecar to egress gateway, ingress gateway to the "
    "service), which are Istio's own ISTIO_MUTUAL; DNS resolution of the FQDN; "
    "NetworkPolicy.",
    "Not rehearsed: the AuthorizationPolicies (only the client namespaces on the egress "
    "gateway, only the ingress gateway's identity on each target) and the targets' STRICT "
    "PeerAuthentication. They act on mesh identities from the mesh CAs, which the stand-ins "
    "do not have; the tests check the objects themselves, against both CRD sets.",
]


# --- timing ------------------------------------------------------------------------------


def measure(db: MariaDB, layout: Layout) -> TimingResult:
    plan = layout.plan

    def run_queries(port: int, count: int) -> None:
        db.query(port, "DO 1;\n" * count, what="timing queries")

    setup = timing.connection_setup(layout.egress_port, db.port)
    latency = timing.query_latency(run_queries, layout.egress_port, db.port)
    rendered = timing.Pki(
        description=(
            f"{timing.key_description(plan.server.leaf)} leaves under an "
            f"{timing.key_description(plan.server_issuer.certificate)} CA (the render's)"
        ),
        server=plan.server,
        client=plan.client,
    )
    rsa = timing.mint_pki(
        ca_key="rsa-4096",
        leaf_key="rsa-2048",
        server_name=plan.sni,
        client_sans=pki.subject_alt_names(plan.client.leaf),
    )
    handshake = timing.handshake_comparison(rsa, rendered, server_name=plan.sni)
    return TimingResult(
        link=plan.fqdn,
        connection_setup=Measurement(
            "through the link",
            "MariaDB directly",
            setup.subject_ms,
            setup.baseline_ms,
            setup.ratio,
            setup.samples,
            f"median of {setup.samples} interleaved connections, TCP connect to the server "
            "greeting",
        ),
        query_latency=Measurement(
            "through the link",
            "MariaDB directly",
            latency.subject_ms,
            latency.baseline_ms,
            latency.ratio,
            latency.samples,
            f"median of {latency.samples} mariadb client sessions of 1000 queries each, "
            "net of a one-query session",
        ),
        handshake=Measurement(
            rsa.description,
            rendered.description,
            handshake.subject_ms,
            handshake.baseline_ms,
            handshake.ratio,
            handshake.samples,
            f"median CPU time of {handshake.samples} in-memory mutual TLS 1.3 handshakes each",
        ),
    )


# --- the whole run -----------------------------------------------------------------------


def _versions(tools: Tools) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            return run_command(argv, what=argv[0], timeout=10).splitlines()[0].strip()
        except Exception:  # a version string is nice to have, never a reason to stop
            return "unknown"

    return {
        "haproxy": first_line([tools.haproxy, "-v"]),
        "mariadb": first_line([tools.mariadbd, "--version"]),
        "openssl (probes)": ssl.OPENSSL_VERSION,
    }


def _link_result(layout: Layout, mariadb_port: int) -> LinkResult:
    """What the render says of one link, before anything is rehearsed."""
    plan = layout.plan
    return LinkResult(
        fqdn=plan.fqdn,
        sni=plan.sni,
        client_cluster=plan.client_cluster,
        server_cluster=plan.server_cluster,
        destination_rule=plan.destination_rule,
        egress_gateway=plan.egress_gateway,
        client_secret=plan.client_secret,
        gateway=plan.gateway,
        server_secret=plan.server_secret,
        virtual_service=plan.virtual_service,
        target=plan.target,
        link_port=plan.link_port,
        min_version=plan.min_version,
        allowed_client_sans=plan.allowed_client_sans,
        server_names=plan.server_names,
        listeners={
            "mariadb": mariadb_port,
            "ingress": layout.ingress_port,
            "egress app port": layout.egress_port,
        },
        notes=link_notes(plan),
    )


def _rehearse_link(
    db: MariaDB,
    layout: Layout,
    ingress_log: LogWatch,
    egress_log: LogWatch,
    clients: Sequence[ClientCertificate],
) -> LinkResult:
    result = _link_result(layout, db.port)
    result.positive = positive_check(db, layout, ingress_log)
    minted = mint_negatives(layout.plan)
    result.cases = [
        *ingress_cases(layout, ingress_log, minted),
        *target_cases(layout, ingress_log),
        *other_client_cases(layout, ingress_log, clients),
        *egress_cases(layout, egress_log, minted),
    ]
    return result


def _start_haproxies(
    stack: contextlib.ExitStack,
    tools: Tools,
    workdir: Path,
    layouts: Sequence[Layout],
    mariadb_port: int,
    say: Callable[[str], None],
) -> tuple[LogWatch, LogWatch]:
    """The ingress and egress HAProxies of every link, stopped when ``stack`` closes;
    their log watches, ingress first."""
    ingress_cfg, egress_cfg = haproxy_configs(layouts, workdir, mariadb_port)
    say("starting the ingress and egress HAProxies")
    ingress_log = stack.enter_context(
        running_haproxy(
            tools,
            "ingress",
            ingress_cfg,
            workdir,
            [p for x in layouts for p in x.ingress_process_ports],
        )
    )
    egress_log = stack.enter_context(
        running_haproxy(
            tools,
            "egress",
            egress_cfg,
            workdir,
            [p for x in layouts for p in (x.egress_port, x.decoy_egress_port)],
        )
    )
    return ingress_log, egress_log


@dataclass
class _Plans:
    links: list[LinkPlan]
    targets: list[TargetStandInPlan | None]
    """The stand-in of each link's TLS target, in the order of ``links``."""
    partners: list[PartnerPlan]


def _plan_all(render: Render, partners: Sequence[StandIn], targets: Sequence[StandIn]) -> _Plans:
    """The meshlink links, their TLS targets' stand-ins and the partner endpoints, or one
    :class:`WiringError` with the problems of all."""
    problems: list[str] = []
    partner_plans: list[PartnerPlan] = []
    plans: list[LinkPlan] = []
    target_plans: list[TargetStandInPlan | None] = []
    try:
        partner_plans = plan_partner_links(render, {s.host: s for s in partners})
    except WiringError as error:
        problems += error.problems
    try:
        plans = plan_links(render, partner_hosts=partner_hosts(render))
        target_plans = plan_target_stand_ins(render, plans, {s.host: s for s in targets})
    except WiringError as error:
        problems += error.problems
    if problems:
        raise WiringError(problems)
    return _Plans(plans, target_plans, partner_plans)


def _layouts(plans: _Plans) -> tuple[int, list[Layout], list[PartnerLayout]]:
    """MariaDB's port and every link's listeners, on free loopback ports."""
    extra = Layout.TARGET_PORTS
    count = 4 * (len(plans.links) + len(plans.partners))
    ports = free_ports(1 + count + extra * sum(t is not None for t in plans.targets))
    mariadb_port, link_ports, target_ports = ports[0], ports[1 : 1 + count], ports[1 + count :]
    layouts = []
    for i, (plan, target) in enumerate(zip(plans.links, plans.targets, strict=True)):
        layout = Layout(i, plan, *link_ports[4 * i : 4 * i + 4])
        if target is not None:
            layout.target = target
            taken, target_ports = target_ports[:extra], target_ports[extra:]
            layout.target_port, layout.impostor_ingress_port, layout.impostor_target_port = taken
        layouts.append(layout)
    partner_layouts = [
        PartnerLayout(i, plan, *link_ports[4 * i : 4 * i + 4])
        for i, plan in enumerate(plans.partners, start=len(plans.links))
    ]
    return mariadb_port, layouts, partner_layouts


def rehearse(
    render_dir: Path,
    *,
    with_timing: bool = True,
    progress: Callable[[str], None] | None = None,
    partners: Sequence[StandIn] = (),
    targets: Sequence[StandIn] = (),
) -> RehearsalReport:
    """Rehearse every link of a render; ``partners`` play the partner endpoints,
    ``targets`` the external targets that speak TLS (by endpoint address). Wiring errors
    and missing tools raise before anything starts; everything started is stopped, and
    the work directory removed."""
    say = progress or (lambda _: None)
    render = load_render(Path(render_dir))
    plans = _plan_all(render, partners, targets)
    tools = find_tools()
    versions = _versions(tools)
    workdir = Path(tempfile.mkdtemp(prefix="meshlink-rehearse-"))
    try:
        os.chmod(workdir, 0o700)
        mariadb_port, layouts, partner_layouts = _layouts(plans)
        results: list[LinkResult] = []
        measured: TimingResult | None = None
        with contextlib.ExitStack() as stack:
            (workdir / "mariadb").mkdir()
            say("starting MariaDB")
            db = stack.enter_context(MariaDB(tools, workdir / "mariadb", mariadb_port).running())
            if layouts:
                ingress_log, egress_log = _start_haproxies(
                    stack, tools, workdir, layouts, db.port, say
                )
            clients = client_certificates(plans.links)
            for layout in layouts:
                say(f"rehearsing {layout.plan.fqdn} from cluster {layout.plan.client_cluster!r}")
                results.append(_rehearse_link(db, layout, ingress_log, egress_log, clients))
            if partner_layouts:
                say("starting the partner stand-ins")
                stand_in_log, partner_egress_log = stack.enter_context(
                    running_stand_ins(tools, partner_layouts, workdir, db.port)
                )
            for partner_layout in partner_layouts:
                say(f"rehearsing the partner endpoint {partner_layout.plan.fqdn}")
                results.append(
                    rehearse_partner(db, partner_layout, stand_in_log, partner_egress_log)
                )
            if with_timing and layouts:
                say("measuring")
                measured = measure(db, layouts[0])
        return RehearsalReport(
            render_dir=str(render_dir),
            links=results,
            timing=measured,
            not_expressed=list(NOT_EXPRESSED),
            versions=versions,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
