"""Where each link's listeners and files go, and the HAProxies configured from the render
that serve them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import pki
from meshlink.offline.rehearse.minting import under_unrelated_ca
from meshlink.offline.rehearse.probes import LogWatch
from meshlink.offline.rehearse.processes import ManagedProcess, Tools, run_command
from meshlink.offline.rehearse.target_plan import TargetStandInPlan
from meshlink.offline.rehearse.wiring import LinkPlan

LOG_WAIT = 5.0


def write_file(path: Path, text: str, *, private: bool = False) -> Path:
    """``text`` into ``path``; owner-only when ``private`` (keys)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


@dataclass
class Layout:
    index: int
    plan: LinkPlan
    ingress_port: int
    egress_port: int
    decoy_egress_port: int
    decoy_port: int
    _: KW_ONLY
    target: TargetStandInPlan | None = None
    """The stand-in of a target that speaks TLS; the ports below are used only with it."""
    target_port: int = 0
    impostor_ingress_port: int = 0
    """A copy of the ingress frontend whose target presents a certificate of another CA."""
    impostor_target_port: int = 0

    TARGET_PORTS = 3
    """How many ports a TLS target's stand-in adds to the link's four."""

    @property
    def ingress_name(self) -> str:
        return f"link{self.index}_ingress"

    @property
    def impostor_ingress_name(self) -> str:
        return f"link{self.index}_ingress_to_impostor"

    @property
    def ingress_process_ports(self) -> list[int]:
        """What the ingress HAProxy listens on for this link."""
        if self.target is None:
            return [self.ingress_port]
        return [
            self.ingress_port,
            self.target_port,
            self.impostor_ingress_port,
            self.impostor_target_port,
        ]

    @property
    def egress_name(self) -> str:
        return f"link{self.index}_egress"

    @property
    def decoy_name(self) -> str:
        return f"link{self.index}_decoy"


def _target_stand_ins(
    layout: Layout, base: Path, mariadb_port: int, ingress: hp.HaproxyConfig
) -> hp.TargetTLS | None:
    """The TLS target's stand-in and an impostor from another CA, both in front of
    MariaDB, added to the ingress HAProxy; the origination that reaches them."""
    target = layout.target
    if target is None:
        return None
    impostor = under_unrelated_ca(target.credential, pki.SERVER_AUTH)
    for name, port, credential in (
        (f"link{layout.index}_target", layout.target_port, target.credential),
        (f"link{layout.index}_impostor_target", layout.impostor_target_port, impostor),
    ):
        crt = write_file(
            base / f"{name}.pem", credential.chain_pem() + credential.key_pem(), private=True
        )
        ingress.targets.append(hp.TargetFrontend(name, port, crt, mariadb_port))
    return hp.TargetTLS(
        ca_file=write_file(base / "target-ca.pem", target.credential.trust_pem()),
        sni=target.origination.sni,
        verify_host=target.verify_host,
    )


def _ingress_frontends(
    layout: Layout, base: Path, mariadb_port: int, ingress: hp.HaproxyConfig
) -> list[hp.IngressFrontend]:
    """The link's ingress frontend (and, with a TLS target, the one whose target is an
    impostor)."""
    plan = layout.plan
    server_pem = write_file(
        base / "server.pem", plan.server.chain_pem() + plan.server.key_pem(), private=True
    )
    crt_list = write_file(base / "server.crtlist", hp.crt_list_line(server_pem, plan.gateway_hosts))
    server_ca = write_file(base / "server-ca.pem", plan.server.trust_pem())
    target_tls = _target_stand_ins(layout, base, mariadb_port, ingress)

    def frontend(name: str, port: int, backend_port: int) -> hp.IngressFrontend:
        return hp.IngressFrontend(
            name=name,
            port=port,
            crt_list=crt_list,
            ca_file=server_ca,
            min_version=plan.min_version,
            max_version=plan.max_version,
            backend_port=backend_port,
            hosts=tuple(plan.gateway_hosts),
            cipher_suites=tuple(plan.cipher_suites),
            allowed_sans=tuple(plan.allowed_client_sans),
            target_tls=target_tls,
        )

    if target_tls is None:
        return [frontend(layout.ingress_name, layout.ingress_port, mariadb_port)]
    return [
        frontend(layout.ingress_name, layout.ingress_port, layout.target_port),
        frontend(
            layout.impostor_ingress_name,
            layout.impostor_ingress_port,
            layout.impostor_target_port,
        ),
    ]


def haproxy_configs(
    layouts: Sequence[Layout], workdir: Path, mariadb_port: int
) -> tuple[hp.HaproxyConfig, hp.HaproxyConfig]:
    ingress = hp.HaproxyConfig(lua=workdir / "client-san.lua")
    egress = hp.HaproxyConfig()
    allowed: dict[str, list[str]] = {}
    for layout in layouts:
        plan, base = layout.plan, workdir / f"link{layout.index}"
        base.mkdir()
        client_pem = write_file(
            base / "client.pem", plan.client.chain_pem() + plan.client.key_pem(), private=True
        )
        client_ca = write_file(base / "client-ca.pem", plan.client.trust_pem())
        for frontend in _ingress_frontends(layout, base, mariadb_port, ingress):
            if plan.allowed_client_sans:
                allowed[frontend.name] = plan.allowed_client_sans
            ingress.ingress.append(frontend)
        for name, port, server_port in (
            (layout.egress_name, layout.egress_port, layout.ingress_port),
            (layout.decoy_name, layout.decoy_egress_port, layout.decoy_port),
        ):
            egress.egress.append(
                hp.EgressFrontend(
                    name=name,
                    port=port,
                    server_port=server_port,
                    crt=client_pem,
                    ca_file=client_ca,
                    sni=plan.sni,
                    verify_host=_verify_host(plan),
                )
            )
    write_file(workdir / "client-san.lua", hp.render_client_san_lua(allowed))
    return ingress, egress


def _verify_host(plan: LinkPlan) -> str:
    """The one name HAProxy can check: the DR's first DNS-shaped subjectAltName."""
    dns = [n for n in plan.server_names if "://" not in n]
    return dns[0] if dns else plan.sni


def link_notes(plan: LinkPlan) -> list[str]:
    notes = list(plan.notes)
    if len(plan.server_names) > 1 or any("://" in n for n in plan.server_names):
        notes.append(
            f"the DestinationRule lists subjectAltNames {plan.server_names}; HAProxy checks "
            f"only {_verify_host(plan)!r}"
        )
    if any(h.startswith("*.") for h in plan.gateway_hosts):
        notes.append(
            "a wildcard Gateway host matches one DNS label in HAProxy's SNI filter, any "
            "number of labels in Istio"
        )
    return notes


@contextlib.contextmanager
def running_haproxy(
    tools: Tools, name: str, config: hp.HaproxyConfig, workdir: Path, ports: Sequence[int]
) -> Iterator[LogWatch]:
    path = write_file(workdir / f"{name}.cfg", config.text())
    run_command([tools.haproxy, "-c", "-q", "-f", str(path)], what=f"checking the {name} config")
    log = workdir / f"{name}.log"
    with ManagedProcess(
        f"haproxy ({name})", [tools.haproxy, "-db", "-f", str(path)], log, workdir
    ) as p:
        p.wait_listening(ports)
        yield LogWatch(log)
