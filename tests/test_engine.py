"""The offline engine records what the real engine would receive: parents, providers,
dependencies, secrets and replacement triggers."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from meshlink.offline.engine import OfflineMocks, run_program


class _Holder(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("meshlink:index:Holder", name, None, None)
        self.secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": "held", "namespace": "ns"},
            string_data={"tls.key": pulumi.Output.secret("key material")},
            opts=pulumi.ResourceOptions(parent=self, replacement_trigger="rotation-2"),
        )
        self.register_outputs({})


def _program() -> None:
    holder = _Holder("holder")
    provider = k8s.Provider("client", kubeconfig="{}")
    k8s.core.v1.Namespace(
        "ns",
        metadata={"name": "ns"},
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[holder.secret]),
    )
    pulumi.export("secret_data", holder.secret.string_data)
    pulumi.export("setting", pulumi.Config("meshlink").require("setting"))


def test_records_parent_provider_dependencies_and_secrets() -> None:
    run = run_program(_program, project="p", stack="dev", config={"meshlink:setting": "on"})

    secret = run.named("kubernetes:core/v1:Secret", "holder-secret")
    holder = run.named("meshlink:index:Holder", "holder")
    namespace = run.named("kubernetes:core/v1:Namespace", "ns")
    provider = run.named("pulumi:providers:kubernetes", "client")

    assert secret.parent == holder.urn
    assert secret.secret_inputs == {"stringData"}
    assert secret.secret_outputs == {"stringData"}
    assert secret.replacement_trigger == "rotation-2"
    assert namespace.provider_urn == provider.urn
    assert namespace.dependencies == (secret.urn,)
    assert run.depends_on(namespace.urn, secret.urn)
    assert not run.depends_on(secret.urn, namespace.urn)
    assert run.outputs == {"secret_data": {"tls.key": "key material"}, "setting": "on"}
    assert run.secret_outputs == {"secret_data"}


def test_runs_are_independent() -> None:
    first = run_program(_program, project="p", stack="dev", config={"meshlink:setting": "a"})
    second = run_program(_program, project="p", stack="dev", config={"meshlink:setting": "b"})
    assert len(first.registrations) == len(second.registrations) == 4
    assert second.outputs["setting"] == "b"


def test_program_errors_propagate() -> None:
    def broken() -> None:
        raise ValueError("meshlink:services[0].fqdn: bad")

    with pytest.raises(ValueError, match=r"services\[0\]\.fqdn"):
        run_program(broken, project="p", stack="dev")


def test_missing_stack_reference_outputs_are_an_error() -> None:
    def reads_reference() -> None:
        pulumi.StackReference("org/pki/dev")

    with pytest.raises(Exception, match="org/pki/dev"):
        run_program(reads_reference, project="p", stack="dev", mocks=OfflineMocks())


def test_whole_numbers_come_back_as_integers() -> None:
    def program() -> None:
        k8s.core.v1.Service(
            "svc",
            metadata={"name": "svc", "namespace": "ns"},
            spec={"ports": [{"name": "tls", "port": 15443}]},
        )

    run = run_program(program, project="p", stack="dev")
    port = run.named("kubernetes:core/v1:Service", "svc").inputs["spec"]["ports"][0]["port"]
    assert port == 15443
    assert isinstance(port, int)
