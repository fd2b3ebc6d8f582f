"""The link contract of the split stacks: what a stack declares about the link, compared
with what the stack it reads exports.

In the split stacks the link FQDN is written three times (the pki stack's
``server_fqdns``, the server's and the client's ``services``) and the link port twice.
Each stack is valid on its own when they disagree; the mismatch would show only as a
failed TLS handshake between the gateways. The same holds for the clients: the server
stack admits the identities the pki stack issued certificates for, and a client stack
uses its own certificate for the services the server admits it to. So each cluster stack
compares what it declares with the outputs it reads, and one line per mismatch names both
sides: the key and value here, the stack, output and value there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from meshlink.config.reader import WHERE
from meshlink.mesh.services import LinkedService
from meshlink.stack_outputs import placeholder
from meshlink.validation import MeshlinkValidationError, describe_validation_error


class LinkContractError(MeshlinkValidationError, pulumi.RunError):
    """A stack disagrees with a stack it reads.

    Raised inside an ``apply`` on the other stack's outputs, so it fails ``pulumi
    preview``. It is a ``pulumi.RunError`` so that the Python language host prints the
    message alone rather than under "Program failed with an unhandled exception" and a
    traceback (pulumi SDK, ``python/cmd/pulumi-language-python-exec``: ``except
    pulumi.RunError as e: pulumi.log.error(str(e))``).
    """


class ServiceTerms(BaseModel):
    """A linked service as the two halves must agree on it; the server stack exports a
    list of these as ``services`` (no secrets in it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    fqdn: str
    link_port: int


@dataclass(frozen=True)
class LinkTerms:
    """What one stack states about the link; None where it states nothing (or where the
    value is not known, as for an offline placeholder)."""

    services: tuple[ServiceTerms, ...] | None = None
    """The linked services, in the order of the ``services`` key or output."""
    server_fqdns: tuple[str, ...] | None = None
    """The DNS names of the server certificate."""
    client_sans: Mapping[str, str] | None = None
    """The client certificates' SANs by client name: those issued (pki stack), or the
    identities admitted (server stack)."""
    client_settings: Mapping[str, str] = field(default_factory=dict)
    """Per client name, the key here that states its identity (for the messages)."""
    client_name: str | None = None
    """The client a client stack is."""
    client_services: Mapping[str, tuple[str, ...]] | None = None
    """Per client name, the names of the services the server admits it to."""


CONTRACT_OUTPUTS = ("services", "server_fqdns", "client_sans", "client_services")
"""The stack outputs :func:`terms_from_outputs` reads, whichever of them a stack has."""

_SERVICES = TypeAdapter(list[ServiceTerms])
_FQDNS = TypeAdapter(list[str])
_CLIENT_SANS = TypeAdapter(dict[str, str])
_CLIENT_SERVICES = TypeAdapter(dict[str, tuple[str, ...]])


def compare_link(
    here: LinkTerms, there: LinkTerms, *, here_name: str, there_name: str
) -> list[str]:
    """One line per disagreement between this stack's terms and another stack's.

    ``here_name`` is this stack's configuration namespace (``meshlink-server``): the
    lines name its keys. ``there_name`` says which stack the other is (``the pki stack
    'acme/meshlink-pki/prod'``): the lines name its outputs. Only what both sides state
    is compared; a client may use a subset of the services a server serves.
    """
    problems: list[str] = []
    if here.services is not None and there.server_fqdns is not None:
        for index, service in enumerate(here.services):
            if service.fqdn not in there.server_fqdns:
                problems.append(
                    f"{here_name}:services[{index}].fqdn: {service.fqdn!r} here, but "
                    f"{there_name} issued the server certificate (output server_fqdns) for "
                    f"{list(there.server_fqdns)}"
                )
    if here.services is not None and there.services is not None:
        served = {service.name: (index, service) for index, service in enumerate(there.services)}
        for index, service in enumerate(here.services):
            key = f"{here_name}:services[{index}]"
            if service.name not in served:
                problems.append(
                    f"{key}.name: {service.name!r} here, but {there_name} serves no service "
                    f"of that name (output services: {[s.name for s in there.services]})"
                )
                continue
            there_index, theirs = served[service.name]
            if service.fqdn != theirs.fqdn:
                problems.append(
                    f"{key}.fqdn: {service.fqdn!r} here, but {there_name} serves "
                    f"{service.name!r} at {theirs.fqdn!r} (output services[{there_index}].fqdn)"
                )
            if service.link_port != theirs.link_port:
                problems.append(
                    f"{key}.link_port: {service.link_port} here, but {there_name} serves "
                    f"{service.name!r} on link port {theirs.link_port} "
                    f"(output services[{there_index}].link_port)"
                )
    problems.extend(_compare_clients(here, there, here_name=here_name, there_name=there_name))
    return problems


def _compare_clients(
    here: LinkTerms, there: LinkTerms, *, here_name: str, there_name: str
) -> list[str]:
    """The clients' part of :func:`compare_link`: a server's admitted identities against
    the certificates the pki issued; a client stack's name and services against both."""
    problems: list[str] = []
    if here.client_sans is not None and there.client_sans is not None:
        issued = there.client_sans
        for client, san in here.client_sans.items():
            key = f"{here_name}:{here.client_settings.get(client, 'clients')}"
            if client not in issued:
                problems.append(
                    f"{key}: client {client!r} here, but {there_name} issued no client "
                    f"certificate of that name (output client_sans: {sorted(issued)})"
                )
            elif issued[client] != san:
                problems.append(
                    f"{key}: {san!r} here, but {there_name} issued the client certificate "
                    f"of {client!r} (output client_sans) for {issued[client]!r}"
                )
    name = here.client_name
    if name is not None and there.client_sans is not None and name not in there.client_sans:
        problems.append(
            f"{here_name}:client_name: {name!r} here, but {there_name} issued no client "
            f"certificate of that name (output client_sans: {sorted(there.client_sans)})"
        )
    if name is not None and there.client_services is not None:
        allowed = there.client_services.get(name)
        if allowed is None:
            problems.append(
                f"{here_name}:client_name: {name!r} here, but {there_name} admits no client "
                f"of that name (output client_services: {sorted(there.client_services)})"
            )
        else:
            served = {s.name for s in there.services or ()}
            for index, service in enumerate(here.services or ()):
                if service.name not in allowed and service.name in served:
                    problems.append(
                        f"{here_name}:services[{index}].name: {service.name!r} here, but "
                        f"{there_name} admits client {name!r} to {list(allowed)} only "
                        "(output client_services)"
                    )
    return problems


@dataclass(frozen=True)
class ReadStack:
    """A stack that this one reads: its role in the link (``pki``, ``server``), its name
    (``org/project/stack``) and its outputs (the resolved values, or the ``Output``s)."""

    role: str
    name: str
    outputs: Mapping[str, Any]

    @property
    def description(self) -> str:
        return f"the {self.role} stack {self.name!r}"


def terms_from_outputs(stack: ReadStack) -> tuple[LinkTerms, list[str]]:
    """The terms in a stack's resolved outputs (any of :data:`CONTRACT_OUTPUTS`), and one
    line for each output of the wrong shape, naming the stack and the output.

    An output that is an offline placeholder (``meshlink render`` without the stack's
    outputs) is not known, so it is not compared.
    """
    problems: list[str] = []

    def known(key: str, adapter: TypeAdapter[Any]) -> Any:
        value = stack.outputs.get(key)
        if value is None or value == placeholder(stack.name, key):
            return None
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            prefix = f"{stack.description}, output {key}"
            problems.extend(describe_validation_error(error, prefix=prefix))
            return None

    services = known("services", _SERVICES)
    fqdns = known("server_fqdns", _FQDNS)
    terms = LinkTerms(
        services=None if services is None else tuple(services),
        server_fqdns=None if fqdns is None else tuple(fqdns),
        client_sans=known("client_sans", _CLIENT_SANS),
        client_services=known("client_services", _CLIENT_SERVICES),
    )
    return terms, problems


def require_agreement(here: LinkTerms, read: Sequence[ReadStack], *, here_name: str) -> None:
    """Raise one :class:`LinkContractError` with every disagreement between this stack's
    terms and the resolved outputs of the stacks it reads."""
    problems: list[str] = []
    for stack in read:
        there, malformed = terms_from_outputs(stack)
        problems.extend(malformed)
        problems.extend(
            compare_link(here, there, here_name=here_name, there_name=stack.description)
        )
    if problems:
        raise LinkContractError(WHERE, problems)


def service_terms(services: Sequence[LinkedService]) -> tuple[ServiceTerms, ...]:
    """What the two halves must agree on of each linked service."""
    return tuple(ServiceTerms(name=s.name, fqdn=s.fqdn, link_port=s.link_port) for s in services)
