"""The client clusters of the split stacks, by name.

The pki stack issues one client certificate per client, and the server stack admits each
client to the services it may use, from the client's egress addresses. Both read them
from ``clients`` (``{orders: {identity: ..., ...}, billing: {...}}``), so a client cluster
is added by config in those two stacks and a client stack of its own; the stacks of the
other clients do not change.

One client can still be given with the one-client keys (``client_identity`` and, on the
server, ``client_nat_addresses``): that client is named :data:`DEFAULT_CLIENT`, the name
a client stack assumes when it sets no ``client_name``. To add a second client, move the
first into ``clients`` under that name: its certificate, outputs and stack stay the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from meshlink.config.reader import MISSING, ConfigReader
from meshlink.gcp._validation import check_host_address
from meshlink.mesh.identity import ClientIdentity
from meshlink.validation import check_dns1123_label

DEFAULT_CLIENT = "client"
"""The name of the one client the one-client keys give, and a client stack's default
``client_name``."""
RESERVED_NAMES = ("server",)
"""Client names the pki stack's outputs cannot take: ``<name>_full_chain_pem`` would be
the server certificate's output."""

SectionT = TypeVar("SectionT", bound="PkiClientSection")


class PkiClientSection(BaseModel):
    """One client in the pki stack: the SAN of its certificate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identity: ClientIdentity


class ServerClientSection(PkiClientSection):
    """One client in the server stack: who it is, what it may use, where it comes from."""

    services: list[str] | None = Field(default=None, min_length=1)
    """The names of the services this client may use (default: every service)."""
    nat_addresses: list[str] = Field(min_length=1)
    """The client cluster's egress (Cloud NAT) addresses (its stack's ``nat_addresses``)."""

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        return value

    @field_validator("nat_addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            check_host_address(address)
        if len(set(value)) != len(value):
            raise ValueError("lists an address twice")
        return value


@dataclass(frozen=True)
class SplitClient:
    """One client cluster, and the key that states its identity (for messages)."""

    name: str
    identity: ClientIdentity
    identity_setting: str
    services: tuple[str, ...] | None = None
    nat_addresses: tuple[str, ...] = ()
    services_setting: str = ""

    def may_use(self, service: str) -> bool:
        return self.services is None or service in self.services


def check_client_name(name: str) -> str:
    """A client's name: a DNS label, and not a name the pki stack's outputs take."""
    check_dns1123_label(name)
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} names the server certificate's outputs; rename the client")
    return name


def _named_clients(
    reader: ConfigReader, model: type[SectionT], value: Any
) -> list[tuple[str, SectionT]] | None:
    """The ``clients`` mapping validated by ``model``, in the order given."""
    if not isinstance(value, dict) or not value:
        reader.wrong_shape("clients", "a non-empty mapping of client names", value)
        return None
    parsed: list[tuple[str, SectionT]] = []
    clean = True
    for name, section in value.items():
        try:
            check_client_name(str(name))
        except ValueError as error:
            reader.problems.append(f"{reader.path('clients')}.{name}: {error}")
            clean = False
            continue
        if not isinstance(section, dict):
            reader.wrong_shape(f"clients.{name}", "an object", section)
            clean = False
        else:
            checked = reader.part(model, section, f"{reader.path('clients')}.{name}.")
            clean = clean and checked is not None
            if checked is not None:
                parsed.append((str(name), checked))
    return parsed if clean else None


def _refuse_repeated_identities(reader: ConfigReader, clients: Sequence[SplitClient]) -> bool:
    """Each client needs its own identity: a Gateway cannot tell two clients apart by it."""
    first_of: dict[str, str] = {}
    clean = True
    for client in clients:
        san = client.identity.san
        if san in first_of:
            reader.problems.append(
                f"{reader.path(client.identity_setting)}: {san!r} is also the identity of "
                f"client {first_of[san]!r}; give each client its own certificate SAN"
            )
            clean = False
        first_of.setdefault(san, client.name)
    return clean


def _one_client_keys_unset(reader: ConfigReader, keys: Sequence[str]) -> bool:
    """With ``clients`` set, the one-client keys are refused rather than merged."""
    clean = True
    for key in keys:
        if reader.raw(key) is not MISSING:
            reader.problems.append(
                f"{reader.path(key)}: cannot be set with {reader.path('clients')}; list "
                f"every client there (name the client of this key {DEFAULT_CLIENT!r} to keep "
                "its certificate and stack)"
            )
            clean = False
    return clean


def read_pki_clients(reader: ConfigReader) -> list[SplitClient] | None:
    """The pki stack's clients: ``clients``, or the one client of ``client_identity``."""
    value = reader.raw("clients")
    if value is MISSING:
        identity = reader.raw("client_identity")
        if identity is MISSING:
            reader.problems.append(
                f"{reader.path('clients')}: is required (see Pulumi.yaml for its shape), or "
                f"{reader.path('client_identity')} for a single client"
            )
            return None
        section = reader.section(ClientIdentity, "client_identity", required=True)
        if section is None:
            return None
        return [SplitClient(DEFAULT_CLIENT, section, "client_identity")]
    if not _one_client_keys_unset(reader, ["client_identity"]):
        return None
    parsed = _named_clients(reader, PkiClientSection, value)
    if parsed is None:
        return None
    clients = [
        SplitClient(name, section.identity, f"clients.{name}.identity") for name, section in parsed
    ]
    return clients if _refuse_repeated_identities(reader, clients) else None


def _server_client(name: str, section: ServerClientSection) -> SplitClient:
    return SplitClient(
        name,
        section.identity,
        f"clients.{name}.identity",
        services=None if section.services is None else tuple(section.services),
        nat_addresses=tuple(section.nat_addresses),
        services_setting=f"clients.{name}.services",
    )


def _refuse_shared_addresses(reader: ConfigReader, clients: Sequence[SplitClient]) -> bool:
    """Each client stack has a Cloud NAT of its own; an address under two clients is a
    copy slip, and removing one of them would leave the address admitted."""
    first_of: dict[str, str] = {}
    clean = True
    for client in clients:
        for index, address in enumerate(client.nat_addresses):
            if address in first_of:
                reader.problems.append(
                    f"{reader.path('clients')}.{client.name}.nat_addresses[{index}]: "
                    f"{address!r} is also an address of client {first_of[address]!r}"
                )
                clean = False
            first_of.setdefault(address, client.name)
    return clean


def read_server_clients(
    reader: ConfigReader, service_names: Sequence[str] | None
) -> list[SplitClient] | None:
    """The server stack's clients: ``clients``, or the one client of ``client_identity``
    and ``client_nat_addresses``. Every client's services must be linked services, and
    every linked service needs a client that may use it."""
    value = reader.raw("clients")
    if value is MISSING:
        identity = reader.section(ClientIdentity, "client_identity", required=True)
        nat = reader.strings("client_nat_addresses", required=True, check=check_host_address)
        if identity is None or nat is None:
            return None
        return [SplitClient(DEFAULT_CLIENT, identity, "client_identity", nat_addresses=tuple(nat))]
    if not _one_client_keys_unset(reader, ["client_identity", "client_nat_addresses"]):
        return None
    parsed = _named_clients(reader, ServerClientSection, value)
    if parsed is None:
        return None
    clients = [_server_client(name, section) for name, section in parsed]
    clean = _refuse_repeated_identities(reader, clients)
    clean = _refuse_shared_addresses(reader, clients) and clean
    if service_names is not None:
        clean = _check_admission(reader, clients, service_names) and clean
    return clients if clean else None


def _check_admission(
    reader: ConfigReader, clients: Sequence[SplitClient], service_names: Sequence[str]
) -> bool:
    clean = True
    for client in clients:
        for index, service in enumerate(client.services or ()):
            if service not in service_names:
                reader.problems.append(
                    f"{reader.path(client.services_setting)}[{index}]: {service!r} is not a "
                    f"linked service (services: {', '.join(service_names)})"
                )
                clean = False
    for index, service in enumerate(service_names):
        if not any(client.may_use(service) for client in clients):
            reader.problems.append(
                f"{reader.path('services')}[{index}]: no client may use {service!r}; add it "
                f"to a client's services in {reader.path('clients')}, or remove it"
            )
            clean = False
    return clean


def admitted_identities(
    clients: Sequence[SplitClient], service_names: Sequence[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The ingress Gateways' admission, as ``LinkServer`` takes it: the SANs of the clients
    that may use every service, and per service the SANs of the clients it adds."""
    everywhere = [c.identity.san for c in clients if c.services is None]
    per_service = {
        service: [c.identity.san for c in clients if c.services and service in c.services]
        for service in service_names
    }
    return everywhere, {service: sans for service, sans in per_service.items() if sans}


def union_of_addresses(clients: Sequence[SplitClient]) -> list[str]:
    """Every client's egress addresses, in the order of the clients."""
    return [address for client in clients for address in client.nat_addresses]
