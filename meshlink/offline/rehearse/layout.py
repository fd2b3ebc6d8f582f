"""Where each link's listeners and files go, and the HAProxies configured from the render
that serve them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse.probes import LogWatch
from meshlink.offline.rehearse.processes import ManagedProcess, Tools, run_command
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

    @property
    def ingress_name(self) -> str:
        return f"link{self.index}_ingress"

    @property
    def egress_name(self) -> str:
        return f"link{self.index}_egress"

    @property
    def decoy_name(self) -> str:
        return f"link{self.index}_decoy"


def haproxy_configs(
    layouts: Sequence[Layout], workdir: Path, mariadb_port: int
) -> tuple[hp.HaproxyConfig, hp.HaproxyConfig]:
    ingress = hp.HaproxyConfig(lua=workdir / "client-san.lua")
    egress = hp.HaproxyConfig()
    allowed: dict[str, list[str]] = {}
    for layout in layouts:
        plan, base = layout.plan, workdir / f"link{layout.index}"
        base.mkdir()
        server_pem = write_file(
            base / "server.pem", plan.server.chain_pem() + plan.server.key_pem(), private=True
        )
        crt_list = write_file(
            base / "server.crtlist", hp.crt_list_line(server_pem, plan.gateway_hosts)
        )
        server_ca = write_file(base / "server-ca.pem", plan.server.trust_pem())
        client_pem = write_file(
            base / "client.pem", plan.client.chain_pem() + plan.client.key_pem(), private=True
        )
        client_ca = write_file(base / "client-ca.pem", plan.client.trust_pem())
        if plan.allowed_client_sans:
            allowed[layout.ingress_name] = plan.allowed_client_sans
        ingress.ingress.append(
            hp.IngressFrontend(
                name=layout.ingress_name,
                port=layout.ingress_port,
                crt_list=crt_list,
                ca_file=server_ca,
                min_version=plan.min_version,
                max_version=plan.max_version,
                backend_port=mariadb_port,
                hosts=tuple(plan.gateway_hosts),
                cipher_suites=tuple(plan.cipher_suites),
                allowed_sans=tuple(plan.allowed_client_sans),
            )
        )
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
