"""What the links sharing one egress gateway hold on it.

Links that share an egress gateway (``shared_egress_gateway``) are told apart there by
port and by SNI = FQDN, and each exports its DestinationRule for the gateway host to its own
client namespaces. So a port (app and link ports alike: a port means one protocol to a
proxy), an FQDN, a service name (the subset of the gateway host) and a client namespace
belong to one link only: a namespace of two links would see two rules for one host, which
Istio merges only when their ``exportTo`` match (istio/istio
``pilot/pkg/model/destination_rule.go``, ``mergeDestinationRule``).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshlink.mesh.services import LinkedService


class GatewayLinks:
    """The claims of the links on one egress gateway, by (what, value)."""

    def __init__(self, gateway_name: str) -> None:
        self._gateway_name = gateway_name
        self._holders: dict[tuple[str, object], str] = {}

    @staticmethod
    def _wanted(
        services: Sequence[LinkedService],
        namespaces: Sequence[str],
        namespaces_setting: str = "namespaces",
    ) -> list[tuple[str, str, object]]:
        """(setting, what, value) of everything a link's ``services`` and client
        ``namespaces`` need to themselves."""
        wanted: list[tuple[str, str, object]] = [
            (f"{namespaces_setting}[{index}]", "client namespace", namespace)
            for index, namespace in enumerate(namespaces)
        ]
        for index, service in enumerate(services):
            setting = f"services[{index}]"
            wanted += [
                (f"{setting}.name", "service name", service.name),
                (f"{setting}.fqdn", "fqdn", service.fqdn),
                (f"{setting}.app_port", "port", service.app_port),
                (f"{setting}.link_port", "port", service.link_port),
            ]
        return wanted

    def conflicts(
        self,
        link: str,
        services: Sequence[LinkedService],
        namespaces: Sequence[str],
        *,
        namespaces_setting: str = "namespaces",
    ) -> list[str]:
        """What ``services`` and client ``namespaces`` of ``link`` would take from another
        link on this gateway."""
        problems = []
        for setting, what, value in self._wanted(services, namespaces, namespaces_setting):
            holder = self._holders.get((what, value))
            if holder is not None and holder != link:
                problems.append(
                    f"{setting}: {what} {value} is already used by link {holder!r} on the "
                    f"shared egress gateway {self._gateway_name!r}; link {link!r} needs "
                    "one of its own"
                )
        return problems

    def claim(
        self, link: str, services: Sequence[LinkedService], namespaces: Sequence[str]
    ) -> None:
        """Records that ``link`` uses ``services`` and client ``namespaces`` on this
        gateway; check :meth:`conflicts` first."""
        for _, what, value in self._wanted(services, namespaces):
            self._holders.setdefault((what, value), link)
