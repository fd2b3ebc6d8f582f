"""meshlink's guard rails as a Pulumi policy pack: the rules of ``guardrails.py`` as
policies, each mandatory unless the pack's configuration says otherwise
(``pulumi preview --policy-pack ... --policy-pack-config config.json``, README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import guardrails
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError


def plain(value: Any) -> Any:
    """The SDK's read-only proxies as dicts and lists, each value the engine does not know
    yet as ``guardrails.UNKNOWN`` (the proxies raise when one is read)."""

    def read(container: Any, key: Any) -> Any:
        try:
            return plain(container[key])
        except UnknownValueError:
            return guardrails.UNKNOWN

    if isinstance(value, Mapping):
        return {key: read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [read(value, index) for index in range(len(value))]
    return value


def _report_all(problems: list[str], report_violation: ReportViolation) -> None:
    for problem in problems:
        report_violation(problem, None)


def _link_destination_rules(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [(r.resource_type, plain(r.props)) for r in args.resources]
    configured = args.get_config().get("linkHosts") or []
    link_hosts = set(configured) | guardrails.link_hosts_of_service_entries(resources)
    for resource, (resource_type, props) in zip(args.resources, resources, strict=True):
        if guardrails.is_istio_networking(resource_type, "DestinationRule"):
            spec = props.get("spec") or {}
            for problem in guardrails.destination_rule_problems(spec, link_hosts):
                report_violation(problem, resource.urn)


def _mutual_gateways(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if guardrails.is_istio_networking(args.resource_type, "Gateway"):
        minimum = args.get_config().get("minProtocolVersion", "TLSV1_2")
        spec = plain(args.props).get("spec") or {}
        _report_all(guardrails.gateway_problems(spec, minimum), report_violation)


def _link_certificates(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    rules = guardrails.CertificateRules.from_config(args.get_config())
    if args.resource_type == guardrails.TLS_PRIVATE_KEY:
        problems = guardrails.tls_private_key_problems(plain(args.props), rules)
    elif args.resource_type in guardrails.TLS_CERTIFICATES:
        problems = guardrails.tls_certificate_problems(plain(args.props), rules)
    elif args.resource_type in guardrails.KUBERNETES_SECRET_TYPES:
        problems = guardrails.kubernetes_secret_certificate_problems(plain(args.props), rules)
    else:
        return
    _report_all(problems, report_violation)


def _private_keys(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == "pulumi:pulumi:Stack":
        return
    secret = set(args.opts.additional_secret_outputs or ())
    if args.resource_type in guardrails.KUBERNETES_SECRET_TYPES:
        secret |= guardrails.KUBERNETES_SECRET_FIELDS
    _report_all(guardrails.private_key_problems(plain(args.props), secret), report_violation)


def _load_balancers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in ("kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch"):
        _report_all(guardrails.load_balancer_problems(plain(args.props)), report_violation)


_STRINGS = {"type": "array", "items": {"type": "string"}}

POLICIES = [
    StackValidationPolicy(
        name="link-destination-rule-mutual-tls",
        description="A DestinationRule towards a link host originates MUTUAL TLS.",
        validate=_link_destination_rules,
        config_schema=PolicyConfigSchema(
            properties={
                # Besides the hosts of meshlink's own ServiceEntries.
                "linkHosts": {**_STRINGS, "description": "Link hosts: names or *.domain"},
            }
        ),
    ),
    ResourceValidationPolicy(
        name="mutual-gateway-client-checks",
        description="A MUTUAL Gateway server checks client names and refuses old TLS.",
        validate=_mutual_gateways,
        config_schema=PolicyConfigSchema(
            properties={
                "minProtocolVersion": {"type": "string", "enum": ["TLSV1_2", "TLSV1_3"]},
            }
        ),
    ),
    ResourceValidationPolicy(
        name="link-certificate-strength",
        description="Link keys are ECDSA P-256/P-384 or RSA >= 3072; leaves live <= 397 days.",
        validate=_link_certificates,
        config_schema=PolicyConfigSchema(
            properties={
                "ecdsaCurves": _STRINGS,
                "minRsaBits": {"type": "integer", "minimum": 2048},
                "maxLeafValidityDays": {"type": "integer", "minimum": 1},
            }
        ),
    ),
    ResourceValidationPolicy(
        name="private-keys-are-secret",
        description="Private keys sit only where the engine always encrypts them.",
        validate=_private_keys,
    ),
    ResourceValidationPolicy(
        name="load-balancer-source-ranges",
        description="A LoadBalancer Service admits named sources, never every address.",
        validate=_load_balancers,
    ),
]

if __name__ == "__main__":
    PolicyPack(
        name="meshlink-guardrails",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=POLICIES,  # type: ignore[arg-type]
    )
