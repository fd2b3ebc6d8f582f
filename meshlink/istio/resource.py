"""Turning a model into a Kubernetes object, and declaring it with Pulumi.

:func:`to_manifest` is the single place that decides what an Istio object looks like on
the wire; :func:`istio_custom_resource` builds its arguments from it, so what is
rendered, tested against the CRDs and applied can never differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, Field, ValidationError

from meshlink.istio._base import IstioApiVersion, IstioSpec
from meshlink.istio.values import LabelKey, LabelValue
from meshlink.validation import (
    KubernetesLabel,
    KubernetesName,
    MeshlinkValidationError,
    check_dns1123_label,
    describe_validation_error,
)

__all__ = ["istio_custom_resource", "to_manifest"]


class _Metadata(BaseModel):
    name: KubernetesName
    namespace: KubernetesLabel
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[LabelKey, str] = Field(default_factory=dict)


def to_manifest(
    model: IstioSpec,
    *,
    metadata_name: str,
    namespace: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    api_version: IstioApiVersion | str = IstioApiVersion.V1,
) -> dict[str, Any]:
    """The complete Kubernetes object for ``model``: ``apiVersion``, ``kind``,
    ``metadata`` and a camelCase ``spec`` with unset fields left out.

    Raises :class:`MeshlinkValidationError` naming ``metadata.name``, ``metadata.namespace``,
    ``metadata.labels`` or ``apiVersion`` when one of them is not acceptable.
    """
    if not isinstance(model, IstioSpec):
        raise TypeError(
            f"expected an Istio model such as Gateway or DestinationRule, got {type(model)!r}"
        )
    where = f"{model.KIND} {metadata_name!r}"
    problems: list[str] = []
    try:
        version = IstioApiVersion(api_version)
    except ValueError:
        allowed = ", ".join(repr(v.value) for v in IstioApiVersion)
        problems.append(f"apiVersion: {api_version!r} is not one of {allowed}")
        version = IstioApiVersion.V1
    try:
        metadata = _Metadata(
            name=metadata_name,
            namespace=namespace,
            labels=dict(labels or {}),
            annotations=dict(annotations or {}),
        )
    except ValidationError as error:
        problems.extend(describe_validation_error(error, prefix="metadata."))
    else:
        if model.METADATA_NAME_IS_LABEL:
            try:
                check_dns1123_label(metadata.name)
            except ValueError as error:
                problems.append(
                    f"metadata.name: Istio needs a {model.KIND} name without dots: {error}"
                )
    if problems:
        raise MeshlinkValidationError(where, problems)
    meta: dict[str, Any] = {"name": metadata.name, "namespace": metadata.namespace}
    if metadata.labels:
        meta["labels"] = dict(metadata.labels)
    if metadata.annotations:
        meta["annotations"] = dict(metadata.annotations)
    return {
        "apiVersion": f"{model.API_GROUP}/{version.value}",
        "kind": model.KIND,
        "metadata": meta,
        "spec": model.to_wire(),
    }


def istio_custom_resource(
    resource_name: str,
    model: IstioSpec,
    *,
    metadata_name: str,
    namespace: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    api_version: IstioApiVersion | str = IstioApiVersion.V1,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.apiextensions.CustomResource:
    """Declare ``model`` as a ``kubernetes.apiextensions.CustomResource``.

    ``parent``, ``provider`` and ``depends_on`` come through ``opts``; everything else is
    what :func:`to_manifest` produces, so the Pulumi inputs equal the rendered manifest.
    """
    manifest = to_manifest(
        model,
        metadata_name=metadata_name,
        namespace=namespace,
        labels=labels,
        annotations=annotations,
        api_version=api_version,
    )
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )
