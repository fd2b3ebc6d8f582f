"""Two real Kubernetes control planes on loopback, standing in for the client and server
clusters: ``etcd``, ``kube-apiserver`` and ``kube-controller-manager`` (namespace deletion and
garbage collection, so ``pulumi destroy`` can finish), all built from Go modules.

There is no kubelet and no scheduler: nothing runs. Pods of a Deployment stay Pending and a
LoadBalancer Service never gets an address; the test program, and only it, tells the
Kubernetes provider not to wait for them.

Each control plane listens on free loopback ports only, with its own serving certificate
(made here with ``cryptography``) and a bearer token; every process dies with the test run
(parent-death signal) and is stopped, and its directory removed, when the context exits.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import secrets
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.rehearse.processes import ManagedProcess, ProcessError, free_ports, tail
from tests.e2e.toolchain import Toolchain
from tests.support.rehearsal_fixture import (
    ca_certificate,
    key_pem,
    leaf_certificate,
    new_key,
    pem,
)

START_TIMEOUT = 90.0
CRD_TIMEOUT = 60.0


@dataclass(frozen=True)
class LocalCluster:
    name: str
    server: str
    """``https://127.0.0.1:<port>``."""
    token: str
    ca_pem: str
    directory: Path
    ports: tuple[int, ...]
    """Every port its processes listen on."""

    @property
    def kubeconfig(self) -> str:
        """A kubeconfig in the shape a cluster's own would have: server, CA and a token."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": self.name,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(
                            self.ca_pem.encode()
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": f"{self.name}-admin", "user": {"token": self.token}}],
            "contexts": [
                {"name": self.name, "context": {"cluster": self.name, "user": f"{self.name}-admin"}}
            ],
            "current-context": self.name,
        }
        return yaml.safe_dump(config, sort_keys=False)

    def api_client(self) -> kubernetes.client.ApiClient:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config_from_dict(
            yaml.safe_load(self.kubeconfig), client_configuration=configuration
        )
        return kubernetes.client.ApiClient(configuration)


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _serving_certificate(directory: Path) -> tuple[Path, Path, str]:
    """A CA and a serving certificate for 127.0.0.1/localhost; returns (cert, key, CA PEM)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = new_key(), new_key()
    ca = ca_certificate(f"{directory.name} test CA", ca_key, issuer=None, now=now, serial=1)
    serving = leaf_certificate(
        "kube-apiserver",
        key,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        issuer=(ca, ca_key),
        now=now,
        serial=2,
    )
    cert_path = directory / "serving.crt"
    cert_path.write_text(pem(serving))
    return cert_path, _write_private(directory / "serving.key", key_pem(key)), pem(ca)


def _service_account_keys(directory: Path) -> tuple[Path, Path]:
    """The key pair the API server signs and checks service-account tokens with."""
    key = new_key()
    public = directory / "sa.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return _write_private(directory / "sa.key", key_pem(key)), public


def _wait_ready(cluster: LocalCluster, process: ManagedProcess, timeout: float) -> None:
    context = ssl.create_default_context(cadata=cluster.ca_pem)
    # An https URL of the cluster this module started, never a caller's.
    request = urllib.request.Request(  # noqa: S310
        f"{cluster.server}/readyz", headers={"Authorization": f"Bearer {cluster.token}"}
    )
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.running():
            raise ProcessError(f"{process.name} exited during start-up:\n{tail(process.log)}")
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = str(error)
        time.sleep(0.25)
    raise ProcessError(
        f"{process.name} was not ready within {timeout:.0f} s ({last}):\n{tail(process.log)}"
    )


@contextlib.contextmanager
def local_cluster(name: str, toolchain: Toolchain, parent: Path) -> Iterator[LocalCluster]:
    """One control plane, running for the duration of the context."""
    directory = parent / name
    directory.mkdir(parents=True)
    etcd_client, etcd_peer, secure_port = free_ports(3)
    cert, key, ca_pem = _serving_certificate(directory)
    sa_key, sa_pub = _service_account_keys(directory)
    token = secrets.token_urlsafe(24)
    tokens = directory / "tokens.csv"
    tokens.write_text(f"{token},{name}-admin,{name}-admin,system:masters\n")
    tokens.chmod(0o600)
    cluster = LocalCluster(
        name=name,
        server=f"https://127.0.0.1:{secure_port}",
        token=token,
        ca_pem=ca_pem,
        directory=directory,
        ports=(etcd_client, etcd_peer, secure_port),
    )
    etcd_url = f"http://127.0.0.1:{etcd_client}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    try:
        with contextlib.ExitStack() as processes:
            etcd = processes.enter_context(
                ManagedProcess(
                    f"{name} etcd",
                    [
                        str(toolchain.binary("etcd")),
                        f"--name={name}",
                        f"--data-dir={directory / 'etcd'}",
                        f"--listen-client-urls={etcd_url}",
                        f"--advertise-client-urls={etcd_url}",
                        f"--listen-peer-urls={peer_url}",
                        f"--initial-advertise-peer-urls={peer_url}",
                        f"--initial-cluster={name}={peer_url}",
                        "--unsafe-no-fsync",
                        "--log-level=warn",
                    ],
                    directory / "etcd.log",
                    directory,
                )
            )
            etcd.wait_listening([etcd_client], timeout=START_TIMEOUT)
            apiserver = processes.enter_context(
                ManagedProcess(
                    f"{name} kube-apiserver",
                    [
                        str(toolchain.binary("kube-apiserver")),
                        f"--etcd-servers={etcd_url}",
                        "--bind-address=127.0.0.1",
                        "--advertise-address=127.0.0.1",
                        f"--secure-port={secure_port}",
                        f"--tls-cert-file={cert}",
                        f"--tls-private-key-file={key}",
                        f"--cert-dir={directory / 'certs'}",
                        f"--token-auth-file={tokens}",
                        "--authorization-mode=RBAC",
                        "--service-cluster-ip-range=10.96.0.0/16",
                        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                        f"--service-account-key-file={sa_pub}",
                        f"--service-account-signing-key-file={sa_key}",
                        "--disable-admission-plugins=ServiceAccount",
                        "--enable-priority-and-fairness=false",
                        "--profiling=false",
                        "--v=1",
                    ],
                    directory / "kube-apiserver.log",
                    directory,
                )
            )
            _wait_ready(cluster, apiserver, START_TIMEOUT)
            kubeconfig = directory / "kubeconfig"
            kubeconfig.write_text(cluster.kubeconfig)
            kubeconfig.chmod(0o600)
            controllers = processes.enter_context(
                ManagedProcess(
                    f"{name} kube-controller-manager",
                    [
                        str(toolchain.binary("kube-controller-manager")),
                        f"--kubeconfig={kubeconfig}",
                        f"--authentication-kubeconfig={kubeconfig}",
                        f"--authorization-kubeconfig={kubeconfig}",
                        "--controllers=namespace-controller,garbage-collector-controller",
                        "--leader-elect=false",
                        "--bind-address=127.0.0.1",
                        "--secure-port=0",
                        "--profiling=false",
                    ],
                    directory / "kube-controller-manager.log",
                    directory,
                )
            )
            time.sleep(0.5)
            if not controllers.running():
                raise ProcessError(
                    f"{controllers.name} exited during start-up:\n{tail(controllers.log)}"
                )
            yield cluster
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def create_namespaces(cluster: LocalCluster, names: list[str]) -> None:
    with cluster.api_client() as client:
        api = kubernetes.client.CoreV1Api(client)
        for name in names:
            api.create_namespace(
                kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name))
            )


def crd_file_for(cluster: LocalCluster, toolchain: Toolchain) -> Path:
    """The client cluster gets the oldest pinned Istio CRD set and the server the newest, so
    one run puts each side's objects before a real API server of each release."""
    oldest, newest = toolchain.istio_crd_sets
    crd_set = oldest if cluster.name == "client" else newest
    return toolchain.istio_crds / f"istio-{crd_set}.yaml"


def istio_crd_names(cluster: LocalCluster) -> list[str]:
    with cluster.api_client() as client:
        listed: Any = kubernetes.client.ApiextensionsV1Api(client).list_custom_resource_definition()
        return sorted(
            str(crd.metadata.name) for crd in listed.items if crd.spec.group.endswith("istio.io")
        )


def ensure_crds(cluster: LocalCluster, toolchain: Toolchain, timeout: float = CRD_TIMEOUT) -> None:
    """Install the cluster's Istio CRD set unless it is there; wait until it is Established."""
    documents = [d for d in yaml.safe_load_all(crd_file_for(cluster, toolchain).read_text()) if d]
    crds = [d for d in documents if d.get("kind") == "CustomResourceDefinition"]
    present = set(istio_crd_names(cluster))
    with cluster.api_client() as client:
        api = kubernetes.client.ApiextensionsV1Api(client)
        for crd in crds:
            if crd["metadata"]["name"] not in present:
                api.create_custom_resource_definition(crd)
        deadline = time.monotonic() + timeout
        pending = {crd["metadata"]["name"] for crd in crds}
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                status: Any = api.read_custom_resource_definition(name).status
                conditions = (status.conditions or []) if status else []
                if any(c.type == "Established" and c.status == "True" for c in conditions):
                    pending.discard(name)
            if pending:
                time.sleep(0.2)
    if pending:
        raise TimeoutError(f"CRDs not established on {cluster.name}: {sorted(pending)}")


def remove_istio_crds(cluster: LocalCluster, timeout: float = CRD_TIMEOUT) -> None:
    """Delete every Istio CRD (and so every Istio object) and wait until they are gone."""
    with cluster.api_client() as client:
        api = kubernetes.client.ApiextensionsV1Api(client)
        for name in istio_crd_names(cluster):
            with contextlib.suppress(kubernetes.client.ApiException):
                api.delete_custom_resource_definition(name)
    deadline = time.monotonic() + timeout
    while istio_crd_names(cluster):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Istio CRDs still on {cluster.name}: {istio_crd_names(cluster)}")
        time.sleep(0.2)
