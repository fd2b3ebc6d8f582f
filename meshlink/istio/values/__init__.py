"""The value types Istio fields accept, each checked the way Istio's own validation does.

Istio is inconsistent about what a "host" is: a DestinationRule host may be a short
Kubernetes service name, a Gateway host must be fully qualified and may carry a
``namespace/`` prefix, a Sidecar egress host must carry one, and a ServiceEntry host may
not be ``*``. Getting this wrong is accepted by the API server (the CRD schema only says
"string") and fails later, silently, inside istiod. Each kind of host therefore has its
own type here, named after the field it belongs to.

Where Istio merely warns (short names in ServiceEntry hosts, IP addresses as hosts),
these types refuse: meshlink emits what it means, so a warning would be a bug.
"""

from __future__ import annotations

from meshlink.istio.values.durations import Duration, format_duration, parse_duration
from meshlink.istio.values.hosts import (
    DestinationHost,
    ExportTarget,
    GatewayHost,
    GatewayReference,
    IpBlock,
    ServiceEntryAddress,
    ServiceEntryHost,
    ServiceHost,
    SidecarHost,
    SniHost,
    check_destination_host,
    check_export_to,
    check_gateway_host,
    check_gateway_reference,
    check_service_entry_host,
    check_service_host,
    check_sidecar_host,
    sni_matches_host,
)
from meshlink.istio.values.names import (
    LabelKey,
    LabelValue,
    PortName,
    SubsetName,
    check_label_key,
    check_label_value,
)
from meshlink.istio.values.tls import CredentialName, ProxyFilePath, SubjectAltName

__all__ = [
    "CredentialName",
    "DestinationHost",
    "Duration",
    "ExportTarget",
    "GatewayHost",
    "GatewayReference",
    "IpBlock",
    "LabelKey",
    "LabelValue",
    "PortName",
    "ProxyFilePath",
    "ServiceEntryAddress",
    "ServiceEntryHost",
    "ServiceHost",
    "SidecarHost",
    "SniHost",
    "SubjectAltName",
    "SubsetName",
    "check_destination_host",
    "check_export_to",
    "check_gateway_host",
    "check_gateway_reference",
    "check_label_key",
    "check_label_value",
    "check_service_entry_host",
    "check_service_host",
    "check_sidecar_host",
    "format_duration",
    "parse_duration",
    "sni_matches_host",
]
