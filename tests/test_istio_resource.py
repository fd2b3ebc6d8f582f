"""``to_manifest`` builds the whole Kubernetes object; ``istio_custom_resource`` declares
exactly that object, with parent and provider from the options."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from meshlink.istio import (
    DestinationRule,
    Gateway,
    IstioApiVersion,
    PeerAuthentication,
    PeerAuthenticationMode,
    PeerMutualTLS,
    PortProtocol,
    Server,
    ServerPort,
    ServerTLSMode,
    ServerTLSSettings,
    istio_custom_resource,
    to_manifest,
)
from meshlink.offline.engine import run_program
from meshlink.validation import MeshlinkValidationError

FQDN = "mysql.link.example.internal"


def _gateway() -> Gateway:
    return Gateway(
        selector={"istio": "egressgateway"},
        servers=[
            Server(
                port=ServerPort(number=15443, protocol=PortProtocol.TLS, name="tls"),
                hosts=[FQDN],
                tls=ServerTLSSettings(mode=ServerTLSMode.ISTIO_MUTUAL),
            )
        ],
    )


def test_manifest_carries_api_version_kind_metadata_and_spec() -> None:
    manifest = to_manifest(
        PeerAuthentication(mtls=PeerMutualTLS(mode=PeerAuthenticationMode.STRICT)),
        metadata_name="strict",
        namespace="db",
        labels={"app.kubernetes.io/part-of": "meshlink"},
        annotations={"meshlink.dev/link": "mysql"},
        api_version="v1beta1",
    )
    assert manifest == {
        "apiVersion": "security.istio.io/v1beta1",
        "kind": "PeerAuthentication",
        "metadata": {
            "name": "strict",
            "namespace": "db",
            "labels": {"app.kubernetes.io/part-of": "meshlink"},
            "annotations": {"meshlink.dev/link": "mysql"},
        },
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def test_manifest_defaults_to_v1_and_leaves_out_empty_labels() -> None:
    manifest = to_manifest(DestinationRule(host="mysql"), metadata_name="dr", namespace="db")
    assert manifest["apiVersion"] == "networking.istio.io/v1"
    assert manifest["metadata"] == {"name": "dr", "namespace": "db"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"metadata_name": "Bad_Name"}, "metadata.name: 'Bad_Name' is not a valid RFC 1123 name"),
        (
            {"metadata_name": "egress.mysql"},
            "metadata.name: Istio needs a Gateway name without dots",
        ),
        (
            {"namespace": "istio.system"},
            "metadata.namespace: 'istio.system' is not a valid RFC 1123 label",
        ),
        (
            {"labels": {"app": "bad value"}},
            "metadata.labels.app: 'bad value' is not a valid label value",
        ),
        (
            {"labels": {"-app": "x"}},
            "metadata.labels.-app.[key]: '-app' is not a valid label key",
        ),
        (
            {"annotations": {"a b": "anything goes here"}},
            "metadata.annotations.a b.[key]: 'a b' is not a valid label key",
        ),
        ({"api_version": "v1alpha3"}, "apiVersion: 'v1alpha3' is not one of 'v1', 'v1beta1'"),
    ],
)
def test_bad_metadata_is_refused_naming_the_setting(
    kwargs: dict[str, object], expected: str
) -> None:
    arguments: dict[str, object] = {"metadata_name": "egress", "namespace": "istio-system"}
    arguments.update(kwargs)
    with pytest.raises(MeshlinkValidationError) as raised:
        to_manifest(_gateway(), **arguments)  # type: ignore[arg-type]
    assert expected in str(raised.value)
    assert str(raised.value).startswith("Gateway ")


def test_dotted_names_are_fine_for_kinds_istio_does_not_restrict() -> None:
    manifest = to_manifest(
        DestinationRule(host="mysql"), metadata_name="mysql.link", namespace="db"
    )
    assert manifest["metadata"]["name"] == "mysql.link"


def test_only_models_are_accepted() -> None:
    with pytest.raises(TypeError, match="expected an Istio model"):
        to_manifest({"spec": {}}, metadata_name="x", namespace="y")  # type: ignore[arg-type]


class _Holder(pulumi.ComponentResource):
    def __init__(self, name: str, provider: k8s.Provider, version: IstioApiVersion) -> None:
        super().__init__("meshlink:index:Holder", name, None, None)
        self.marker = k8s.core.v1.ConfigMap(
            f"{name}-marker",
            metadata={"name": "marker", "namespace": "istio-system"},
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.gateway = istio_custom_resource(
            f"{name}-egress-gateway",
            _gateway(),
            metadata_name="istio-egressgateway-mysql",
            namespace="istio-system",
            labels={"app.kubernetes.io/managed-by": "meshlink"},
            api_version=version,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.marker]),
        )
        self.register_outputs({})


@pytest.mark.parametrize("version", list(IstioApiVersion))
def test_custom_resource_inputs_equal_the_manifest(version: IstioApiVersion) -> None:
    def program() -> None:
        provider = k8s.Provider("client-cluster", kubeconfig="{}")
        _Holder("link", provider, version)

    run = run_program(program, project="meshlink", stack="test")
    gateway = run.named(
        f"kubernetes:networking.istio.io/{version.value}:Gateway", "link-egress-gateway"
    )
    holder = run.named("meshlink:index:Holder", "link")
    provider = run.named("pulumi:providers:kubernetes", "client-cluster")
    marker = run.named("kubernetes:core/v1:ConfigMap", "link-marker")

    expected = to_manifest(
        _gateway(),
        metadata_name="istio-egressgateway-mysql",
        namespace="istio-system",
        labels={"app.kubernetes.io/managed-by": "meshlink"},
        api_version=version,
    )
    assert {key: gateway.inputs[key] for key in expected} == expected
    assert gateway.inputs["spec"]["servers"][0]["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert gateway.parent == holder.urn
    assert gateway.provider_urn == provider.urn
    assert marker.urn in gateway.dependencies
    assert not gateway.secret_inputs


def test_bad_metadata_registers_nothing() -> None:
    errors: list[MeshlinkValidationError] = []

    def program() -> None:
        try:
            istio_custom_resource(
                "broken", _gateway(), metadata_name="Not A Name", namespace="istio-system"
            )
        except MeshlinkValidationError as error:
            errors.append(error)

    run = run_program(program, project="meshlink", stack="test")
    assert len(errors) == 1 and "metadata.name" in str(errors[0])
    assert run.registrations == []


def test_every_kind_registers_under_its_own_type_token() -> None:
    from tests.test_istio_models import EXAMPLES

    def program() -> None:
        for example, build in sorted(EXAMPLES.items()):
            istio_custom_resource(
                example.lower(), build(), metadata_name="example", namespace="app"
            )

    run = run_program(program, project="meshlink", stack="test")
    assert len(run.registrations) == len(EXAMPLES)
    for example, build in EXAMPLES.items():
        model = build()
        token = f"kubernetes:{model.API_GROUP}/v1:{model.KIND}"
        registration = run.named(token, example.lower())
        assert registration.inputs["spec"] == model.to_wire()
        assert registration.inputs["kind"] == model.KIND
