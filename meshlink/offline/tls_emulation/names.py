"""Certificate subjects and subject alternative names, encoded as Go encodes them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from meshlink.offline.tls_emulation.common import fail

_PRINTABLE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?")


def _attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute:
    """A name attribute encoded the way Go's asn1 package encodes a plain string."""
    string_type = _ASN1Type.PrintableString if set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    if oid == NameOID.COUNTRY_NAME and string_type is _ASN1Type.UTF8String:
        # cryptography insists on PrintableString for C; Go would write UTF8String.
        string_type = _ASN1Type.PrintableString
    return x509.NameAttribute(oid, value, _type=string_type)


_SUBJECT_ORDER: tuple[tuple[str, ObjectIdentifier], ...] = (
    ("country", NameOID.COUNTRY_NAME),
    ("province", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("streetAddresses", NameOID.STREET_ADDRESS),
    ("postalCode", NameOID.POSTAL_CODE),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("commonName", NameOID.COMMON_NAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("emailAddress", NameOID.EMAIL_ADDRESS),
)


def subject_name(subject: Mapping[str, Any] | None) -> x509.Name:
    """The subject as Go's ``pkix.Name.ToRDNSequence`` writes it: one RDN per field, all
    street addresses in one multi-valued RDN, empty fields left out."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for field, oid in _SUBJECT_ORDER:
        value = (subject or {}).get(field)
        if value is None or value == "" or value == []:
            continue
        values = list(value) if isinstance(value, list) else [value]
        rdns.append(x509.RelativeDistinguishedName([_attribute(oid, str(v)) for v in values]))
    return x509.Name(rdns)


def subject_from_request(name: x509.Name) -> dict[str, Any]:
    """The fields Go's ``pkix.Name`` keeps when it parses a request's subject."""
    fields: dict[str, Any] = {}
    by_oid = {oid: field for field, oid in _SUBJECT_ORDER if field != "emailAddress"}
    for attribute in name:
        field = by_oid.get(attribute.oid)
        if field is None:
            continue
        value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
        if field in {"commonName", "serialNumber"}:
            fields[field] = value
        elif field == "streetAddresses":
            fields.setdefault(field, []).append(value)
        else:
            # Go keeps every value; the provider only ever writes one per field.
            fields.setdefault(field, value)
    return fields


def general_names(typ: str, name: str, inputs: Mapping[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in inputs.get("dnsNames") or []]
    for ip in inputs.get("ipAddresses") or []:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise fail(typ, name, f"Invalid IP address: failed to parse {ip!r}") from None
    names.extend(x509.UniformResourceIdentifier(u) for u in inputs.get("uris") or [])
    return names
