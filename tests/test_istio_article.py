"""The Istio objects of the cross-cluster MySQL link, as the architecture article and
Istio's egress TLS origination guide write them, expressed with the models.

The expected YAML below is written the way those documents show it; the models must
produce exactly that object, parse it back, and the object must pass both CRD sets.
The egress Gateway ``istio-egressgateway-mysql`` is missing from the article and added
here: without it the egress gateway has no listener on 15443.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshlink.istio import (
    ClientTLSMode,
    ClientTLSSettings,
    Destination,
    DestinationRule,
    Gateway,
    IstioSpec,
    L4MatchAttributes,
    LoadBalancerAlgorithm,
    LoadBalancerSettings,
    Location,
    PortProtocol,
    PortTrafficPolicy,
    Resolution,
    RouteDestination,
    Server,
    ServerPort,
    ServerTLSMode,
    ServerTLSSettings,
    ServiceEntry,
    ServiceEntryEndpoint,
    ServicePort,
    Subset,
    TCPRoute,
    TrafficPolicy,
    VirtualService,
    to_manifest,
)
from tests.support.istio_schema import CRD_SETS, validate_manifest

FQDN = "mysql.link.example.internal"
APP_PORT = 3306
LINK_PORT = 13306
EGRESS_SERVICE = "istio-egressgateway.istio-system.svc.cluster.local"

EXPECTED_YAML = f"""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: mysql-external
  namespace: istio-system
spec:
  hosts:
  - {FQDN}
  location: MESH_EXTERNAL
  ports:
  - number: 3306
    name: tcp
    protocol: TCP
  - number: 13306
    name: tls
    protocol: TLS
  resolution: DNS
  endpoints:
  - address: {FQDN}
    ports:
      tls: 13306
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway-mysql
  namespace: istio-system
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 15443
      name: tls
      protocol: TLS
    hosts:
    - {FQDN}
    tls:
      mode: ISTIO_MUTUAL
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-mysql
  namespace: istio-system
spec:
  host: {EGRESS_SERVICE}
  subsets:
  - name: mysql
    trafficPolicy:
      loadBalancer:
        simple: ROUND_ROBIN
      portLevelSettings:
      - port:
          number: 15443
        tls:
          mode: ISTIO_MUTUAL
          sni: {FQDN}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-mysql-through-egress-gateway
  namespace: istio-system
spec:
  hosts:
  - {FQDN}
  gateways:
  - mesh
  - istio-egressgateway-mysql
  tcp:
  - match:
    - gateways:
      - mesh
      port: 3306
    route:
    - destination:
        host: {EGRESS_SERVICE}
        subset: mysql
        port:
          number: 15443
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway-mysql
      port: 15443
    route:
    - destination:
        host: {FQDN}
        port:
          number: 13306
      weight: 100
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: originate-mtls-for-mysql
  namespace: istio-system
spec:
  host: {FQDN}
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    portLevelSettings:
    - port:
        number: 13306
      tls:
        mode: MUTUAL
        credentialName: mysql-link-client
        sni: {FQDN}
        subjectAltNames:
        - {FQDN}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gateway-mysql
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 13306
      name: tls-mysql
      protocol: TLS
    hosts:
    - {FQDN}
    tls:
      mode: MUTUAL
      credentialName: mysql-link-server
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: mysql-virtual-service
  namespace: istio-system
spec:
  hosts:
  - {FQDN}
  gateways:
  - gateway-mysql
  tcp:
  - match:
    - port: 13306
    route:
    - destination:
        host: mysql.db.svc.cluster.local
        port:
          number: 3306
"""

EXPECTED: dict[str, dict[str, Any]] = {
    document["metadata"]["name"]: document for document in yaml.safe_load_all(EXPECTED_YAML)
}


def _models() -> dict[str, IstioSpec]:
    mesh_to_egress = L4MatchAttributes(gateways=["mesh"], port=APP_PORT)
    at_egress = L4MatchAttributes(gateways=["istio-egressgateway-mysql"], port=15443)
    return {
        "mysql-external": ServiceEntry(
            hosts=[FQDN],
            location=Location.MESH_EXTERNAL,
            ports=[
                ServicePort(number=APP_PORT, name="tcp", protocol=PortProtocol.TCP),
                ServicePort(number=LINK_PORT, name="tls", protocol=PortProtocol.TLS),
            ],
            resolution=Resolution.DNS,
            endpoints=[ServiceEntryEndpoint(address=FQDN, ports={"tls": LINK_PORT})],
        ),
        "istio-egressgateway-mysql": Gateway(
            selector={"istio": "egressgateway"},
            servers=[
                Server(
                    port=ServerPort(number=15443, name="tls", protocol=PortProtocol.TLS),
                    hosts=[FQDN],
                    tls=ServerTLSSettings(mode=ServerTLSMode.ISTIO_MUTUAL),
                )
            ],
        ),
        "egressgateway-for-mysql": DestinationRule(
            host=EGRESS_SERVICE,
            subsets=[
                Subset(
                    name="mysql",
                    traffic_policy=TrafficPolicy(
                        load_balancer=LoadBalancerSettings(
                            simple=LoadBalancerAlgorithm.ROUND_ROBIN
                        ),
                        port_level_settings=[
                            PortTrafficPolicy(
                                port=15443,
                                tls=ClientTLSSettings(mode=ClientTLSMode.ISTIO_MUTUAL, sni=FQDN),
                            )
                        ],
                    ),
                )
            ],
        ),
        "direct-mysql-through-egress-gateway": VirtualService(
            hosts=[FQDN],
            gateways=["mesh", "istio-egressgateway-mysql"],
            tcp=[
                TCPRoute(
                    match=[mesh_to_egress],
                    route=[
                        RouteDestination(
                            destination=Destination(
                                host=EGRESS_SERVICE, subset="mysql", port=15443
                            ),
                            weight=100,
                        )
                    ],
                ),
                TCPRoute(
                    match=[at_egress],
                    route=[
                        RouteDestination(
                            destination=Destination(host=FQDN, port=LINK_PORT), weight=100
                        )
                    ],
                ),
            ],
        ),
        "originate-mtls-for-mysql": DestinationRule(
            host=FQDN,
            traffic_policy=TrafficPolicy(
                load_balancer=LoadBalancerSettings(simple=LoadBalancerAlgorithm.ROUND_ROBIN),
                port_level_settings=[
                    PortTrafficPolicy(
                        port=LINK_PORT,
                        tls=ClientTLSSettings(
                            mode=ClientTLSMode.MUTUAL,
                            credential_name="mysql-link-client",
                            sni=FQDN,
                            subject_alt_names=[FQDN],
                        ),
                    )
                ],
            ),
        ),
        "gateway-mysql": Gateway(
            selector={"istio": "ingressgateway"},
            servers=[
                Server(
                    port=ServerPort(number=LINK_PORT, name="tls-mysql", protocol=PortProtocol.TLS),
                    hosts=[FQDN],
                    tls=ServerTLSSettings(
                        mode=ServerTLSMode.MUTUAL, credential_name="mysql-link-server"
                    ),
                )
            ],
        ),
        "mysql-virtual-service": VirtualService(
            hosts=[FQDN],
            gateways=["gateway-mysql"],
            tcp=[
                TCPRoute(
                    match=[L4MatchAttributes(port=LINK_PORT)],
                    route=[
                        RouteDestination(
                            destination=Destination(
                                host="mysql.db.svc.cluster.local", port=APP_PORT
                            )
                        )
                    ],
                )
            ],
        ),
    }


def test_every_article_object_is_expressed() -> None:
    assert (
        set(_models())
        == set(EXPECTED)
        == {
            "mysql-external",
            "direct-mysql-through-egress-gateway",
            "egressgateway-for-mysql",
            "originate-mtls-for-mysql",
            "gateway-mysql",
            "mysql-virtual-service",
            "istio-egressgateway-mysql",
        }
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_models_produce_the_documented_object(name: str) -> None:
    model = _models()[name]
    manifest = to_manifest(model, metadata_name=name, namespace="istio-system")
    assert manifest == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_documented_object_parses_to_the_same_model(name: str) -> None:
    model = _models()[name]
    assert type(model).model_validate(EXPECTED[name]["spec"]) == model


@pytest.mark.usefixtures("istio_crds")
@pytest.mark.parametrize("crd_set", CRD_SETS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_documented_object_passes_the_crds(name: str, crd_set: str) -> None:
    assert validate_manifest(EXPECTED[name], crd_set) == []
