"""The real toolchain ``make toolchain`` built, located through ``scripts/toolchain.sh``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.toolchain import toolchain_env


class ToolchainMissingError(RuntimeError):
    """A binary the real-engine tests run has not been built (``make toolchain``)."""


@dataclass(frozen=True)
class Toolchain:
    pulumi_bin: Path
    """``pulumi`` and the Python dynamic-provider plugin script."""
    kubernetes_provider_bin: Path
    """``pulumi-resource-kubernetes``."""
    kubernetes_bin: Path
    """``kube-apiserver`` and ``kube-controller-manager``."""
    etcd_bin: Path
    istio_crds: Path
    istio_crd_sets: tuple[str, ...]

    @property
    def plugin_path(self) -> str:
        """What goes first on ``PATH`` so the engine finds every plugin without a download."""
        return os.pathsep.join(str(p) for p in (self.pulumi_bin, self.kubernetes_provider_bin))

    @property
    def binary_directories(self) -> tuple[Path, ...]:
        return (self.pulumi_bin, self.kubernetes_provider_bin, self.kubernetes_bin, self.etcd_bin)

    def binary(self, name: str) -> Path:
        for directory in self.binary_directories:
            candidate = directory / name
            if os.access(candidate, os.X_OK):
                return candidate
        raise ToolchainMissingError(f"{name} is not built; run `make toolchain`")


def load_toolchain() -> Toolchain:
    env = toolchain_env()
    toolchain = Toolchain(
        pulumi_bin=Path(env["MESHLINK_PULUMI_BIN"]),
        kubernetes_provider_bin=Path(env["MESHLINK_KUBERNETES_PROVIDER_BIN"]),
        kubernetes_bin=Path(env["MESHLINK_KUBERNETES_BIN"]),
        etcd_bin=Path(env["MESHLINK_ETCD_BIN"]),
        istio_crds=Path(env["MESHLINK_ISTIO_CRDS"]),
        istio_crd_sets=tuple(env["MESHLINK_ISTIO_CRD_SETS"].split()),
    )
    for name in (
        "pulumi",
        "pulumi-resource-pulumi-python",
        "pulumi-resource-kubernetes",
        "kube-apiserver",
        "kube-controller-manager",
        "etcd",
    ):
        toolchain.binary(name)
    return toolchain
