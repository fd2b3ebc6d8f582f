"""The readiness gate: Istio objects wait until the cluster serves the Istio CRDs.

With managed Cloud Service Mesh, Google installs the Istio CRDs some minutes after the
fleet membership is set, asynchronously. A first ``pulumi up`` that declares the
cluster, the mesh and the links in one go would otherwise fail with "no matches for
kind" on the first Gateway. The gate is a dynamic resource that every Istio object
depends on; its ``create`` polls the cluster's API server until each needed CRD has the
condition ``Established=True`` and serves the API version meshlink emits, and fails
after a bounded time with an error that names the cluster and the missing CRDs.

How the gate reaches the cluster:

- ``kubeconfig`` given (a secret string, YAML or JSON, e.g. the one built for the
  cluster's ``kubernetes.Provider``): the ``kubernetes`` client reads it, including
  ``exec`` credentials such as ``gke-gcloud-auth-plugin``.
- no ``kubeconfig`` and ``ambient=True``: the client's default loading rules
  (``$KUBECONFIG``, ``~/.kube/config``, then the in-cluster service account), with
  ``context`` if given. Only choose this when the ambient configuration points at the
  same cluster as the provider.
- neither: the gate does not poll. It still orders every Istio object after itself, and
  a warning says that the first ``up`` on a fresh cluster may race the CRD install.

The kubeconfig never leaves the secret input: it is not part of the gate's outputs and
never appears in an error message.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import pulumi
import pulumi.dynamic
import yaml
from pulumi.runtime import rpc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from meshlink.extras import require_extra

ISTIO_CRDS: Mapping[str, str] = {
    "Gateway": "gateways.networking.istio.io",
    "VirtualService": "virtualservices.networking.istio.io",
    "DestinationRule": "destinationrules.networking.istio.io",
    "ServiceEntry": "serviceentries.networking.istio.io",
    "Sidecar": "sidecars.networking.istio.io",
    "PeerAuthentication": "peerauthentications.security.istio.io",
    "AuthorizationPolicy": "authorizationpolicies.security.istio.io",
}
"""Kind -> CRD name, for the kinds meshlink can emit."""

DEFAULT_TIMEOUT_SECONDS = 900
"""Managed mesh usually installs the CRDs within a few minutes of the membership; fifteen
minutes leaves room for a slow first provisioning without hanging an ``up`` forever."""

DEFAULT_POLL_SECONDS = 5.0


def crds_for_kinds(kinds: Iterable[str]) -> list[str]:
    """The sorted CRD names for ``kinds``; sorted so the gate's inputs never reorder."""
    return sorted({ISTIO_CRDS[kind] for kind in kinds})


class CrdWaitTimeout(RuntimeError):
    """The CRDs a cluster must serve were not established within the time allowed."""


@dataclass(frozen=True)
class CrdState:
    """What the API server said about one CRD."""

    name: str
    ready: bool
    reason: str


def crd_state(name: str, crd: Mapping[str, Any] | None, group_version: str) -> CrdState:
    """Whether a CRD object (as the API returns it, or None if absent) is usable.

    Usable means established and serving the version in ``group_version``
    (``networking.istio.io/v1``): an old mesh that lacks ``v1`` is reported as such
    instead of failing later with a confusing error.
    """
    if crd is None:
        return CrdState(name, False, "not installed")
    conditions = (crd.get("status") or {}).get("conditions") or []
    established = any(
        c.get("type") == "Established" and str(c.get("status")) == "True" for c in conditions
    )
    if not established:
        return CrdState(name, False, "installed but not yet established")
    version = group_version.rsplit("/", 1)[-1]
    served = [
        v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")
    ]
    if version not in served:
        shown = ", ".join(str(v) for v in served) or "none"
        return CrdState(name, False, f"does not serve {version} (serves: {shown})")
    return CrdState(name, True, "established")


def wait_for_crds(
    read_crd: Callable[[str], Mapping[str, Any] | None],
    crds: Sequence[str],
    *,
    group_versions: Mapping[str, str],
    cluster: str,
    timeout_seconds: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Poll until every CRD in ``crds`` is usable; return their names.

    ``read_crd`` returns the CRD as a dict or None when the API says 404; any exception
    it raises counts as "not yet" (API servers of new clusters refuse connections or
    answer 403 while IAM propagates) and is reported in the timeout message.
    ``group_versions`` maps an API group (``networking.istio.io``) to the
    ``group/version`` that will be applied.
    """
    deadline = clock() + timeout_seconds
    while True:
        pending: list[CrdState] = []
        for name in crds:
            group = name.split(".", 1)[1]
            try:
                state = crd_state(name, read_crd(name), group_versions[group])
            except Exception as error:  # every failure is "not yet" here
                state = CrdState(name, False, f"could not be read: {describe_api_error(error)}")
            if not state.ready:
                pending.append(state)
        if not pending:
            return list(crds)
        if clock() >= deadline:
            details = "; ".join(f"{s.name} {s.reason}" for s in pending)
            raise CrdWaitTimeout(
                f"cluster {cluster!r}: the Istio CRDs were not established after "
                f"{timeout_seconds:g}s: {details}. On managed Cloud Service Mesh the CRDs "
                "appear after the fleet membership's control plane is provisioned; check "
                "its state, then run `pulumi up` again, or raise the gate's timeout."
            )
        sleep(poll_seconds)


def describe_api_error(error: BaseException) -> str:
    """A short description of a client error that carries no response body or header,
    so nothing read from the cluster or the kubeconfig ends up in a message."""
    status = getattr(error, "status", None)
    reason = getattr(error, "reason", None)
    if status is not None:
        return f"HTTP {status} {reason or ''}".strip()
    return type(error).__name__


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def crd_reader(
    kubeconfig: str | None, context: str | None
) -> Callable[[str], Mapping[str, Any] | None]:
    """A function reading one CRD from the cluster named by ``kubeconfig`` (or, when it is
    None, the ambient configuration)."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    if kubeconfig is not None:
        try:
            loaded = yaml.safe_load(kubeconfig)
        except yaml.YAMLError:
            raise ValueError("the gate's kubeconfig is not valid YAML or JSON") from None
        if not isinstance(loaded, dict):
            raise ValueError("the gate's kubeconfig is not a kubeconfig mapping")
        api_client = config.new_client_from_config_dict(
            loaded, context=context, persist_config=False
        )
    else:
        try:
            api_client = config.new_client_from_config(context=context, persist_config=False)
        except config.ConfigException:
            config.load_incluster_config()
            api_client = client.ApiClient()
    api = client.ApiextensionsV1Api(api_client)

    def read(name: str) -> Mapping[str, Any] | None:
        # The raw JSON, not the client's model: only status and versions matter here, and
        # the model's own validation would turn any schema drift into "not yet".
        try:
            response: Any = api.read_custom_resource_definition(name, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        result = json.loads(response.data)
        if not isinstance(result, dict):
            raise TypeError("the API server did not answer with an object")
        return result

    return read


_COMPARED = ("cluster", "crds", "groupVersions", "wait")


class IstioCrdGateProvider(pulumi.dynamic.ResourceProvider):
    """Polls the API server at create (and when the CRD list changes); nothing to delete."""

    serialize_as_secret_always = False

    def _check(self, props: Mapping[str, Any]) -> dict[str, Any]:
        crds = list(_plain(props["crds"]))
        group_versions = dict(_plain(props["groupVersions"]))
        cluster = str(_plain(props["cluster"]))
        outs: dict[str, Any] = {
            "cluster": cluster,
            "crds": crds,
            "groupVersions": group_versions,
            "wait": bool(_plain(props["wait"])),
            "established": [],
        }
        if not outs["wait"]:
            return outs
        kubeconfig = _plain(props.get("kubeconfig"))
        context = _plain(props.get("context"))
        try:
            read = crd_reader(kubeconfig or None, context or None)
        except Exception as error:
            raise CrdWaitTimeout(
                f"cluster {cluster!r}: cannot build an API client to check the Istio CRDs "
                f"({describe_api_error(error)}: {error})"
                if not kubeconfig
                else f"cluster {cluster!r}: cannot use the gate's kubeconfig to check the "
                f"Istio CRDs ({type(error).__name__})"
            ) from None
        outs["established"] = wait_for_crds(
            read,
            crds,
            group_versions=group_versions,
            cluster=cluster,
            timeout_seconds=float(_plain(props["timeoutSeconds"])),
            poll_seconds=float(_plain(props["pollSeconds"])),
        )
        return outs

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = self._check(props)
        return pulumi.dynamic.CreateResult(id_=f"istio-crds-{outs['cluster']}", outs=outs)

    def diff(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # The kubeconfig is left out on purpose: a refreshed credential is not a reason
        # to show a change on every preview.
        changed = [k for k in _COMPARED if _plain(_olds.get(k)) != _plain(_news.get(k))]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[])

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._check(_news))


class IstioReadinessArgs(TypedDict, total=False):
    """How the readiness gate of one cluster reaches that cluster."""

    kubeconfig: pulumi.Input[str]
    """Kubeconfig (YAML or JSON) of the cluster, kept secret. Usually the same string the
    cluster's ``kubernetes.Provider`` was given."""
    context: str
    """Kubeconfig context to use; the current context when omitted."""
    ambient: bool
    """With no ``kubeconfig``: use ``$KUBECONFIG``, ``~/.kube/config`` or the in-cluster
    service account. Off by default, because the ambient configuration may name another
    cluster than the provider."""
    timeout_seconds: int
    """How long ``pulumi up`` waits for the CRDs before failing (default 900)."""
    poll_seconds: float
    """Seconds between two checks (default 5)."""


class IstioReadinessSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    kubeconfig: Any = None
    context: str | None = Field(default=None, min_length=1)
    ambient: bool = False
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=6 * 3600)
    poll_seconds: float = Field(default=DEFAULT_POLL_SECONDS, gt=0, le=300)

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig_text(cls, value: Any) -> Any:
        """Checked up front, without ever quoting it: the gate takes the kubeconfig's text
        (YAML or JSON) and would otherwise fail only at ``pulumi up``."""
        if value is None or isinstance(value, pulumi.Output):
            return value
        if isinstance(value, Mapping):
            raise ValueError(
                "got a dict; pass the kubeconfig's text: yaml.safe_dump(...) or "
                "json.dumps(...) of it, or an Output of that text"
            )
        if isinstance(value, os.PathLike):
            raise ValueError(
                "got a path; pass the file's content: pathlib.Path(...).read_text(), or an "
                "Output of the kubeconfig's text"
            )
        if not isinstance(value, str):
            raise ValueError(
                f"got a {type(value).__name__}; pass the kubeconfig's text (YAML or JSON) or "
                "an Output of it"
            )
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            loaded = None
        if not isinstance(loaded, dict):
            looks_like_path = "\n" not in value and (
                "/" in value or value.endswith((".yaml", ".yml"))
            )
            raise ValueError(
                "is not kubeconfig text (a YAML or JSON mapping)"
                + (
                    "; it looks like a file path: pass pathlib.Path(...).read_text()"
                    if looks_like_path
                    else ""
                )
            )
        return value

    @property
    def polls(self) -> bool:
        return self.kubeconfig is not None or self.ambient


class IstioCrdGate(pulumi.dynamic.Resource, module="meshlink", name="IstioCrdGate"):
    """One cluster's readiness gate. Pass it to every Istio object as a dependency."""

    established: pulumi.Output[list[str]]
    """The CRDs found established (empty when the gate does not poll)."""

    def __init__(
        self,
        name: str,
        *,
        cluster: str,
        kinds: Iterable[str],
        group_versions: Mapping[str, str],
        settings: IstioReadinessSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        crds = crds_for_kinds(kinds)
        if settings.polls:
            # Checked here, not when the gate first polls during `pulumi up`.
            require_extra("readiness", f"cluster {cluster!r}: a readiness gate that polls")
        else:
            pulumi.log.warn(
                f"cluster {cluster!r}: the Istio readiness gate has no kubeconfig, so it "
                "does not wait for the Istio CRDs; on a cluster whose mesh is still being "
                "provisioned the first `pulumi up` may fail with 'no matches for kind'."
            )
        props: dict[str, Any] = {
            "cluster": cluster,
            "crds": crds,
            "groupVersions": dict(sorted(group_versions.items())),
            "wait": settings.polls,
            "timeoutSeconds": settings.timeout_seconds,
            "pollSeconds": settings.poll_seconds,
            "kubeconfig": (
                pulumi.Output.secret(settings.kubeconfig)
                if settings.kubeconfig is not None
                else None
            ),
            "context": settings.context,
            "established": None,
        }
        super().__init__(IstioCrdGateProvider(), name, props, opts)
