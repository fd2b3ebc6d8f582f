"""What a rehearsal found, link by link: the positive check, the negative cases and the
timing."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CaseResult:
    side: str
    case: str
    expected: str
    result: str
    evidence: str
    passed: bool


@dataclass
class PositiveResult:
    rows: int
    written_sha256: str
    read_back_sha256: str
    direct_sha256: str
    sessions_through_ingress: int
    tls_version: str
    client_identity: str
    passed: bool
    detail: str


@dataclass
class LinkResult:
    fqdn: str
    sni: str
    client_cluster: str
    server_cluster: str
    destination_rule: str
    egress_gateway: str
    client_secret: str
    gateway: str
    server_secret: str
    virtual_service: str
    target: str
    link_port: int
    min_version: str
    allowed_client_sans: list[str]
    server_names: list[str]
    listeners: dict[str, int]
    positive: PositiveResult | None = None
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.positive is not None
            and self.positive.passed
            and bool(self.cases)
            and all(c.passed for c in self.cases)
        )


@dataclass
class Measurement:
    subject: str
    baseline: str
    subject_ms: float
    baseline_ms: float
    ratio: float
    samples: int
    method: str


@dataclass
class TimingResult:
    link: str
    connection_setup: Measurement
    query_latency: Measurement
    handshake: Measurement


@dataclass
class RehearsalReport:
    render_dir: str
    links: list[LinkResult]
    timing: TimingResult | None
    not_expressed: list[str]
    versions: dict[str, str]

    @property
    def ok(self) -> bool:
        return bool(self.links) and all(link.passed for link in self.links)
