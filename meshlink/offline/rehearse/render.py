"""Reading a render directory: Kubernetes objects by content, public certificates, and
(when rendered with ``--include-private-keys``) the private keys.

Nothing below a cluster folder is trusted to have a particular layout: every YAML file
is loaded and objects are found by kind, name and namespace.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from meshlink.offline.rehearse.pki import PemError, load_certificates, load_private_key


class RenderError(ValueError):
    """The directory is not a render meshlink can rehearse."""


@dataclass(frozen=True)
class KubeObject:
    cluster: str
    path: Path
    doc: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion", ""))

    @property
    def metadata(self) -> Mapping[str, Any]:
        value = self.doc.get("metadata") or {}
        return value if isinstance(value, Mapping) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")

    @property
    def spec(self) -> Mapping[str, Any]:
        value = self.doc.get("spec") or {}
        return value if isinstance(value, Mapping) else {}

    @property
    def ref(self) -> str:
        """How messages name the object: ``Kind namespace/name (cluster 'c')``."""
        return f"{self.kind} {self.namespace}/{self.name} (cluster {self.cluster!r})"

    def secret_values(self) -> dict[str, str]:
        """A Secret's values as text; ``stringData`` wins over ``data``, as in the API server."""
        values: dict[str, str] = {}
        data = self.doc.get("data") or {}
        if isinstance(data, Mapping):
            for key, value in data.items():
                try:
                    values[str(key)] = base64.b64decode(str(value), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    values[str(key)] = ""
        string_data = self.doc.get("stringData") or {}
        if isinstance(string_data, Mapping):
            values.update({str(k): str(v) for k, v in string_data.items()})
        return values


@dataclass
class Render:
    root: Path
    objects: list[KubeObject]
    certificates: list[x509.Certificate] = field(default_factory=list)
    private_keys: list[PrivateKeyTypes] = field(default_factory=list)
    has_private_keys_dir: bool = False

    @property
    def clusters(self) -> list[str]:
        return sorted({o.cluster for o in self.objects})

    def of_kind(self, kind: str, *, cluster: str | None = None) -> Iterator[KubeObject]:
        for obj in self.objects:
            if obj.kind == kind and (cluster is None or obj.cluster == cluster):
                yield obj


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_render(root: Path) -> Render:
    root = Path(root)
    kube_root = root / "kubernetes"
    if not kube_root.is_dir():
        raise RenderError(
            f"{root}: no kubernetes/ folder; pass the directory `meshlink render` wrote"
        )
    objects: list[KubeObject] = []
    for cluster_dir in sorted(p for p in kube_root.iterdir() if p.is_dir()):
        for path in _yaml_files(cluster_dir):
            try:
                docs = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as error:
                raise RenderError(f"{path}: not valid YAML ({error})") from None
            for doc in docs:
                if isinstance(doc, Mapping) and doc.get("kind"):
                    objects.append(KubeObject(cluster_dir.name, path, doc))
    if not objects:
        raise RenderError(f"{kube_root}: no Kubernetes objects found")

    certificates: list[x509.Certificate] = []
    for path in sorted((root / "certs").glob("*.pem")):
        try:
            certificates.extend(load_certificates(path.read_text(), what=str(path)))
        except PemError as error:
            raise RenderError(str(error)) from None

    keys_dir = root / "private-keys"
    keys: list[PrivateKeyTypes] = []
    for path in sorted(keys_dir.glob("*.pem")):
        try:
            keys.append(load_private_key(path.read_text(), what=str(path)))
        except PemError as error:
            raise RenderError(str(error)) from None
    return Render(root, objects, certificates, keys, keys_dir.is_dir())
