"""Render a Pulumi program offline into reviewable files.

The program runs unchanged on the mock engine (:mod:`meshlink.offline.engine`), with
real certificates from the pulumi-tls emulation and documentation-range stand-ins for
cloud outputs. What it declared is written as:

- ``kubernetes/<cluster>/<namespace>/<kind>-<name>.yaml``: one object per file, where
  ``<cluster>`` is the logical name of the ``kubernetes.Provider`` it was declared
  through and cluster-scoped objects sit under ``_cluster``; patches end in
  ``.patch.yaml``;
- ``gcp/<module>/<Resource>/<name>.yaml``: ``type``, ``name`` and ``inputs``;
- ``certs/<name>.pem``: every certificate the program issued;
- ``private-keys/<name>.pem``: only with ``include_private_keys``; the directory is
  0700, each key 0600, and ``private-keys/README`` says what they are;
- ``summary.md``: what a reviewer needs on one page.

Output is deterministic for a fixed clock: keys sorted, paths derived from names only.
Without ``include_private_keys``, Secret values and every secret input are replaced by
:data:`REDACTED`, and the render refuses to finish if the text ``PRIVATE KEY`` would
still appear anywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshlink.extras import require_extra
from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration, run_program
from meshlink.offline.program import Program, execute
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary import expiry_warnings, write_summary
from meshlink.stack_outputs import placeholders_for

REDACTED = "<redacted: render with --include-private-keys>"
PRIVATE_KEY_MARKER = "PRIVATE KEY"
_RENDER_MARKER = ".meshlink-render"
_TLS_CERT_TYPES = {
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
}
_TLS_KEY_TYPE = "tls:index/privateKey:PrivateKey"
_KUBERNETES_PROVIDER_TYPE = "pulumi:providers:kubernetes"
DEFAULT_PROVIDER_CLUSTER = "_default-provider"


class RenderError(RuntimeError):
    """The render could not be written safely."""


@dataclass
class RenderResult:
    out: Path
    registration_count: int = 0
    kubernetes: list[RenderedObject] = field(default_factory=list)
    gcp_files: list[Path] = field(default_factory=list)
    cert_files: list[Path] = field(default_factory=list)
    key_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def objects_per_cluster(self) -> dict[str, int]:
        return dict(sorted(Counter(o.cluster for o in self.kubernetes).items()))


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return REDACTED


def _redacted_inputs(registration: Registration, include_private_keys: bool) -> dict[str, Any]:
    inputs = _drop_empty(registration.inputs)
    if include_private_keys:
        return inputs
    return {
        key: _redact(value) if key in registration.secret_inputs else value
        for key, value in inputs.items()
    }


YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter where PyYAML was built with it: about four times faster than the
pure-Python one, and byte-identical on what a render writes
(``tests/test_render_yaml_dumper.py`` and the golden render check both)."""


def _dump(document: Any) -> str:
    return yaml.dump(
        document, Dumper=YAML_DUMPER, sort_keys=True, default_flow_style=False, width=1000
    )


def _cluster_names(run: OfflineRun) -> dict[str, str]:
    return {r.urn: r.name for r in run.of_type(_KUBERNETES_PROVIDER_TYPE)}


def _kubernetes_manifest(registration: Registration, include_private_keys: bool) -> dict[str, Any]:
    manifest = _redacted_inputs(registration, include_private_keys)
    manifest.pop("__provider", None)
    if manifest.get("kind") == "Secret" and not include_private_keys:
        for data_key in ("data", "stringData"):
            if isinstance(manifest.get(data_key), dict):
                manifest[data_key] = _redact(manifest[data_key])
    metadata = manifest.setdefault("metadata", {})
    metadata.setdefault("name", registration.name)
    return manifest


def _kubernetes_path(cluster: str, manifest: Mapping[str, Any], is_patch: bool) -> Path:
    metadata = manifest.get("metadata", {})
    namespace = metadata.get("namespace") or "_cluster"
    suffix = ".patch.yaml" if is_patch else ".yaml"
    filename = f"{str(manifest.get('kind', 'object')).lower()}-{metadata['name']}{suffix}"
    return Path("kubernetes") / cluster / namespace / filename


def _gcp_path(registration: Registration) -> Path:
    # gcp:compute/network:Network -> compute/Network
    _, module_and_file, resource = registration.type.split(":", 2)
    module = module_and_file.split("/")[0]
    return Path("gcp") / module / resource / f"{registration.name}.yaml"


PRIVATE_KEYS_README = """\
These are the private keys of a meshlink render made with --include-private-keys.

They are offline keys: the render derives them deterministically from the program's
project and stack names, so anyone who knows those names can derive them again. They
exist only so that `meshlink rehearse` can run real TLS through the rendered link.

Never apply them, never import them into a cluster or a secrets store, and never commit
them. Real keys are generated by pulumi-tls (or come from your own CA) at `pulumi up` and
exist only as Pulumi secrets. Delete this render when the rehearsal is done.
"""


def _check_target(out: Path) -> None:
    """Write into an empty or previously rendered directory only, never over other files."""
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            raise RenderError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / _RENDER_MARKER).exists():
            raise RenderError(
                f"{out} is not empty and was not written by meshlink render; "
                "choose an empty or new directory"
            )


def _staging_dir(out: Path) -> Path:
    """A fresh directory beside ``out`` (same file system, so the final move is a rename).
    ``mkdtemp`` creates it 0700: nobody else can read a half-written render."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))


def _put_in_place(staging: Path, out: Path) -> None:
    """Replace ``out`` with the complete ``staging`` directory. The old render is moved
    aside first and deleted only once the new one is in place."""
    if not out.exists():
        staging.rename(out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    aside.rmdir()
    out.rename(aside)
    try:
        staging.rename(out)
    except OSError:
        aside.rename(out)
        raise
    shutil.rmtree(aside)


def _write(
    out: Path, relative: Path, text: str, written: set[Path], *, private: bool = False
) -> Path:
    if relative in written:
        raise RenderError(f"two objects render to the same file {relative}")
    written.add(relative)
    target = out / relative
    if private:
        # Private keys: the directory 0700 and each file 0600 from creation on, so there
        # is no moment at which another user could read them.
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.parent.chmod(0o700)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return relative


def _public_mode() -> int:
    """The directory mode the user's umask gives, for a render without keys."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def write_render(
    run: OfflineRun,
    out: Path,
    *,
    include_private_keys: bool,
    title: str,
    now: dt.datetime,
) -> RenderResult:
    """Write ``run`` under ``out`` following the layout in the module docstring.

    Everything is written into a staging directory beside ``out`` and moved into place
    only when complete: a render that fails leaves ``out`` exactly as it was.
    """
    _check_target(out)
    staging = _staging_dir(out)
    try:
        result = _write_all(
            run, staging, include_private_keys=include_private_keys, title=title, now=now
        )
        if not include_private_keys:
            staging.chmod(_public_mode())
        _put_in_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.out = out
    return result


def _write_all(
    run: OfflineRun,
    out: Path,
    *,
    include_private_keys: bool,
    title: str,
    now: dt.datetime,
) -> RenderResult:
    (out / _RENDER_MARKER).write_text("written by meshlink render; safe to delete\n")
    result = RenderResult(out=out, registration_count=len(run.registrations))
    written: set[Path] = set()
    clusters = _cluster_names(run)

    for registration in run.registrations:
        if registration.type.startswith("kubernetes:") and registration.custom:
            cluster = clusters.get(registration.provider_urn, DEFAULT_PROVIDER_CLUSTER)
            if cluster == DEFAULT_PROVIDER_CLUSTER:
                result.warnings.append(
                    f"{registration.type} {registration.name!r} uses the default Kubernetes "
                    "provider; pass an explicit provider so it reaches the intended cluster"
                )
            manifest = _kubernetes_manifest(registration, include_private_keys)
            is_patch = registration.type.endswith("Patch")
            relative = _kubernetes_path(cluster, manifest, is_patch)
            # A manifest whose secret inputs are written out (Secrets carrying keys) is
            # as sensitive as the key files: owner-only, like them.
            carries_secrets = include_private_keys and bool(registration.secret_inputs)
            _write(out, relative, _dump(manifest), written, private=carries_secrets)
            result.kubernetes.append(RenderedObject(cluster, relative, manifest))
        elif registration.type.startswith("gcp:") and registration.custom:
            document = {
                "type": registration.type,
                "name": registration.name,
                "inputs": _redacted_inputs(registration, include_private_keys),
            }
            result.gcp_files.append(_write(out, _gcp_path(registration), _dump(document), written))
        elif registration.type in _TLS_CERT_TYPES:
            relative = Path("certs") / f"{registration.name}.pem"
            result.cert_files.append(
                _write(out, relative, registration.outputs["certPem"], written)
            )
        elif registration.type == _TLS_KEY_TYPE and include_private_keys:
            relative = Path("private-keys") / f"{registration.name}.pem"
            result.key_files.append(
                _write(out, relative, registration.outputs["privateKeyPem"], written, private=True)
            )
    if result.key_files:
        _write(out, Path("private-keys") / "README", PRIVATE_KEYS_README, written, private=True)

    write_summary(out, run, result_objects=result.kubernetes, title=title, now=now)
    result.warnings += expiry_warnings(run, now)
    if not include_private_keys:
        _refuse_leaked_keys(out, written | {Path("summary.md")})
    return result


def _refuse_leaked_keys(out: Path, files: Iterable[Path]) -> None:
    for relative in sorted(files):
        if PRIVATE_KEY_MARKER in (out / relative).read_text():
            raise RenderError(
                f"{relative} would contain a private key although --include-private-keys "
                "was not given; nothing was written"
            )


def render_program(
    program: Program,
    out: Path,
    *,
    include_private_keys: bool = False,
    now: dt.datetime | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    secret_stack_outputs: Mapping[str, frozenset[str]] | None = None,
    placeholder_stack_references: bool = True,
) -> RenderResult:
    """Run ``program`` offline and write what it declares under ``out``.

    Stack references not given in ``stack_references`` get placeholders (with a warning)
    when ``placeholder_stack_references`` is set, so every program renders on its own.
    """
    # Up front: the random emulation is imported only when the program declares a password.
    require_extra("offline", "meshlink render")
    clock = now or dt.datetime.now(dt.UTC)
    mocks = OfflineMocks(
        now=clock,
        seed=f"{program.project}/{program.stack}",
        stack_references=stack_references,
        secret_stack_outputs=secret_stack_outputs,
        stack_reference_placeholders=placeholders_for if placeholder_stack_references else None,
    )
    run = run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config,
        secret_config_keys=program.secret_keys,
        mocks=mocks,
    )
    result = write_render(
        run,
        out,
        include_private_keys=include_private_keys,
        title=f"{program.project} / {program.stack}",
        now=clock,
    )
    result.warnings[:0] = [*program.warnings, *mocks.warnings]
    return result
