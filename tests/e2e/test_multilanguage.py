"""meshlink from every Pulumi language: the provider plugin (``provider/``) on the real CLI.

``pulumi package get-schema`` runs the shipped ``pulumi-resource-meshlink`` and checks the
schema other languages' SDKs are generated from; then a Pulumi YAML program
(``multilanguage/Pulumi.yaml``, run by the ``pulumi-language-yaml`` host the toolchain
builds) declares the e2e link's two halves through the plugin, and the two clusters hold
exactly the objects the Python program (``link_program.py``) declares.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.e2e import live
from tests.e2e.clusters import LocalCluster, ensure_crds
from tests.e2e.engine import Engine
from tests.e2e.link_program import CLIENT_URI, Credentials, LinkCase, link_program
from tests.e2e.toolchain import Toolchain
from tests.support import mesh
from tests.support.toolchain import toolchain_env

FIXTURE = Path(__file__).parent / "multilanguage"

COMPONENTS = {
    "meshlink:index:MeshLink",
    "meshlink:index:FanInLink",
    "meshlink:index:PartnerLink",
    "meshlink:index:LinkClient",
    "meshlink:index:LinkServer",
    "meshlink:index:EgressGateway",
    "meshlink:index:IngressGateway",
    "meshlink:index:ExistingIngressGateway",
    "meshlink:index:CertificateAuthority",
    "meshlink:index:ExistingCertificateAuthority",
    "meshlink:index:ExternallySignedCertificateAuthority",
}


def _plugin_env(engine: Engine, repository: Path, *path_first: Path) -> dict[str, str]:
    """The engine's environment, with this checkout's meshlink importable by the plugin."""
    env = {**os.environ, **engine.env, "PYTHONPATH": str(repository)}
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_first), env["PATH"]])
    return env


@pytest.fixture(scope="module")
def schema(engine: Engine, repository: Path) -> dict[str, Any]:
    plugin = repository / "provider" / "pulumi-resource-meshlink"
    engine.home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(engine.toolchain.binary("pulumi")), "package", "get-schema", str(plugin)],
        cwd=engine.home,
        env=_plugin_env(engine, repository),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(owner, property, spec)`` of every input property of every resource and type."""
    for token, resource in schema["resources"].items():
        for name, spec in resource.get("inputProperties", {}).items():
            yield token, name, spec
    for token, type_ in schema["types"].items():
        for name, spec in type_.get("properties", {}).items():
            yield token, name, spec


def test_the_schema_serves_the_public_components(schema: dict[str, Any]) -> None:
    assert schema["name"] == "meshlink"
    assert set(schema["resources"]) == COMPONENTS
    assert all(resource["isComponent"] for resource in schema["resources"].values())


def test_every_input_is_described(schema: dict[str, Any]) -> None:
    """Each input carries its attribute docstring, or is (a list of) a type that carries
    its own."""
    types = schema["types"]

    def type_description(spec: dict[str, Any]) -> str:
        ref = spec.get("$ref") or spec.get("items", {}).get("$ref", "")
        return str(types.get(ref.removeprefix("#/types/"), {}).get("description", ""))

    undescribed = [
        f"{owner}.{name}"
        for owner, name, spec in _properties(schema)
        if not spec.get("description") and not type_description(spec)
    ]
    assert undescribed == []
    link_server = schema["resources"]["meshlink:index:LinkServer"]["inputProperties"]
    assert "Client certificate SANs" in link_server["allowedClientIdentities"]["description"]
    # A field a TypedDict inherits keeps the docstring of the base that declares it.
    assert "trust domain" in link_server["trustDomains"]["description"]


def test_required_inputs_are_the_required_arguments(schema: dict[str, Any]) -> None:
    resources, types = schema["resources"], schema["types"]
    assert sorted(resources["meshlink:index:MeshLink"]["requiredInputs"]) == [
        "client",
        "clientIdentity",
        "linkCa",
        "server",
        "services",
    ]
    # The admitted identities are allowed_client_identities and/or
    # service_client_identities: neither is required alone.
    assert resources["meshlink:index:LinkServer"]["requiredInputs"] == ["services"]
    assert sorted(resources["meshlink:index:FanInLink"]["requiredInputs"]) == [
        "clients",
        "linkCa",
        "server",
        "services",
    ]
    assert sorted(resources["meshlink:index:LinkClient"]["requiredInputs"]) == [
        "namespaces",
        "services",
    ]
    assert resources["meshlink:index:CertificateAuthority"]["requiredInputs"] == ["subject"]
    # The target is target_host/target_port or target_external: neither is required alone.
    assert sorted(types["meshlink:index:LinkedServiceArgs"]["required"]) == [
        "appPort",
        "fqdn",
        "linkPort",
        "name",
    ]
    assert {"targetHost", "targetPort", "targetExternal"} <= set(
        types["meshlink:index:LinkedServiceArgs"]["properties"]
    )
    assert sorted(types["meshlink:index:MeshLinkClientArgs"]["required"]) == [
        "namespaces",
        "provider",
    ]
    assert "required" not in types["meshlink:index:IstioReadinessArgs"]


def test_key_material_and_kubeconfigs_are_secret_and_never_outputs(
    schema: dict[str, Any],
) -> None:
    sensitive = [
        (owner, name, spec.get("secret"))
        for owner, name, spec in _properties(schema)
        if name in {"privateKeyPem", "kubeconfig"}
    ]
    assert {(owner, name) for owner, name, _ in sensitive} == {
        ("meshlink:index:LinkCredentialArgs", "privateKeyPem"),
        ("meshlink:index:IstioReadinessArgs", "kubeconfig"),
        ("meshlink:index:ExistingCertificateAuthority", "privateKeyPem"),
    }
    assert all(secret is True for _, _, secret in sensitive)
    outputs = {
        token: set(resource["properties"]) for token, resource in schema["resources"].items()
    }
    assert outputs["meshlink:index:CertificateAuthority"] == {
        "rootCertPem",
        "trustBundlePem",
        "chainPem",
        "issuerCertPem",
    }
    assert not [
        (token, name)
        for token, names in outputs.items()
        for name in names
        if "key" in name.lower() or "kubeconfig" in name.lower()
    ]


def test_python_objects_stay_python_only_and_say_so(schema: dict[str, Any]) -> None:
    resources, types = schema["resources"], schema["types"]
    for half in ("LinkServer", "LinkClient"):
        resource = resources[f"meshlink:index:{half}"]
        assert "issuer" not in resource["inputProperties"]
        description = resource["description"]
        assert "In Python only (a Python object, not a value): " in description
        assert "`issuer`" in description
        assert "Tolerations" not in description and "tolerations" not in description
        assert resource["inputProperties"]["credential"]["$ref"] == (
            "#/types/meshlink:index:LinkCredentialArgs"
        )
    link_ca = resources["meshlink:index:MeshLink"]["inputProperties"]["linkCa"]
    assert link_ca["$ref"] == "#/types/meshlink:index:CertificateAuthorityArgs"
    for side in ("MeshLinkClientArgs", "MeshLinkServerArgs"):
        assert types[f"meshlink:index:{side}"]["properties"]["provider"]["$ref"] == (
            "pulumi.json#/Any"
        )


# The YAML program, for real.


@pytest.fixture(scope="module")
def yaml_host() -> Path:
    host = Path(toolchain_env()["MESHLINK_PULUMI_YAML_BIN"])
    if not os.access(host / "pulumi-language-yaml", os.X_OK):
        message = "pulumi-language-yaml is not built; run `make toolchain`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return host


@pytest.fixture(scope="module")
def case(clusters: dict[str, LocalCluster]) -> LinkCase:
    return LinkCase(
        client_kubeconfig=clusters["client"].kubeconfig,
        server_kubeconfig=clusters["server"].kubeconfig,
        credentials=Credentials.issue([service["fqdn"] for service in mesh.services(2)]),
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_yaml_program_declares_the_python_programs_services() -> None:
    program = yaml.safe_load((FIXTURE / "Pulumi.yaml").read_text())
    assert program["variables"]["services"] == [
        {_camel(key): value for key, value in service.items()} for service in mesh.services(2)
    ]
    server = program["resources"]["link-server"]["properties"]
    assert server["allowedClientIdentities"] == [CLIENT_URI]


@pytest.fixture(scope="module")
def yaml_stack(
    engine: Engine,
    case: LinkCase,
    yaml_host: Path,
    repository: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[auto.Stack]:
    # The plugin, with the test-only skip-await transform (multilanguage_provider.py).
    plugin_dir = tmp_path_factory.mktemp("meshlink-plugin")
    plugin = plugin_dir / "pulumi-resource-meshlink"
    plugin.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -u -m tests.e2e.multilanguage_provider "$@"\n'
    )
    plugin.chmod(0o755)
    work_dir = tmp_path_factory.mktemp("yaml-program")
    shutil.copy(FIXTURE / "Pulumi.yaml", work_dir / "Pulumi.yaml")
    env = _plugin_env(engine, repository, plugin_dir, yaml_host)
    engine.backend.mkdir(parents=True, exist_ok=True)
    os.environ.update(engine.env)
    stack = auto.create_or_select_stack(
        stack_name="yaml",
        work_dir=str(work_dir),
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_home=engine.env["PULUMI_HOME"],
            pulumi_command=auto.PulumiCommand(
                root=str(engine.toolchain.pulumi_bin.parent), skip_version_check=True
            ),
            env_vars=env,
            secrets_provider="passphrase",
        ),
    )
    issued = case.credentials
    stack.set_all_config(
        {
            "clientKubeconfig": auto.ConfigValue(case.client_kubeconfig, secret=True),
            "serverKubeconfig": auto.ConfigValue(case.server_kubeconfig, secret=True),
            "trustBundlePem": auto.ConfigValue(issued.trust_bundle_pem),
            "serverChainPem": auto.ConfigValue(issued.server_chain_pem),
            "serverKeyPem": auto.ConfigValue(issued.server_key_pem, secret=True),
            "clientChainPem": auto.ConfigValue(issued.client_chain_pem),
            "clientKeyPem": auto.ConfigValue(issued.client_key_pem, secret=True),
        }
    )
    yield stack
    stack.destroy(on_output=print)


def test_pulumi_up_of_the_yaml_program_makes_the_python_programs_objects(
    yaml_stack: auto.Stack,
    case: LinkCase,
    clusters: dict[str, LocalCluster],
    toolchain: Toolchain,
) -> None:
    for cluster in clusters.values():
        ensure_crds(cluster, toolchain)
    result = yaml_stack.up(on_output=print)
    assert result.summary.result == "succeeded"
    rendered = list(mesh.by_cluster(mesh.run_link(link_program(case, skip_await=False))))
    assert len(rendered) > 20
    problems: list[str] = []
    declared: dict[str, set[str]] = {"client-cluster": set(), "server-cluster": set()}
    for provider, manifest in rendered:
        cluster = clusters["client" if provider == "client-cluster" else "server"]
        metadata = manifest["metadata"]
        name = f"{provider}: {manifest['kind']} {metadata.get('namespace', '')}/{metadata['name']}"
        declared[provider].add(
            f"{manifest['kind']} {metadata.get('namespace', '')}/{metadata['name']}"
        )
        found = live.read(cluster, manifest)
        if found is None:
            problems.append(f"{name}: not on the cluster")
            continue
        problems += [f"{name}: {d}" for d in live.differences(live.declared_view(manifest), found)]
    assert problems == []
    # Nothing more than the Python program declares either.
    for provider, cluster_name in (("client-cluster", "client"), ("server-cluster", "server")):
        extra = set(live.managed_objects(clusters[cluster_name])) - declared[provider]
        assert extra == set(), extra
    # The components' outputs reached the YAML program: the Gateways are the Python
    # program's.
    outputs = result.outputs
    for provider, output in (
        ("client-cluster", "clientObjects"),
        ("server-cluster", "serverObjects"),
    ):
        gateways = sorted(
            f"{m['metadata']['namespace']}/{m['metadata']['name']}"
            for p, m in rendered
            if p == provider and m["kind"] == "Gateway"
        )
        assert gateways
        assert sorted(outputs[output].value["Gateway"]) == gateways


def test_destroy_of_the_yaml_program_leaves_nothing(
    yaml_stack: auto.Stack, clusters: dict[str, LocalCluster]
) -> None:
    yaml_stack.destroy(on_output=print)
    for cluster in clusters.values():
        assert live.managed_objects(cluster) == []
