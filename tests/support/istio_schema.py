"""Validate Kubernetes manifests against the real Istio CRDs, the way the API server would.

The CRD sets are the ``kubernetes/customresourcedefinitions.gen.yaml`` files of the
``istio.io/api`` Go module at the releases pinned in ``toolchain/versions.env``, fetched through
the Go module proxy (verified by the Go checksum database) by ``scripts/toolchain.sh`` into the
toolchain cache (``make crds``). For a manifest this checks, in order:

1. ``apiVersion``/``kind`` name a served version of a CRD in the set;
2. the version's ``openAPIV3Schema`` with ``jsonschema``, strictly: an object that lists
   ``properties`` rejects any other field unless it says
   ``x-kubernetes-preserve-unknown-fields`` (as ``kubectl apply --validate=strict`` does),
   ``nullable`` and ``x-kubernetes-int-or-string`` are honoured, ``int32`` is range-checked;
3. ``x-kubernetes-list-type`` ``set``/``map`` uniqueness;
4. every ``x-kubernetes-validations`` CEL rule, evaluated with ``cel-python`` on each node
   the rule applies to (``self`` is that node).

cel-python implements standard CEL but not Kubernetes' extension libraries (strings,
URLs, IPs, quantities...). A rule that needs one of those is never counted as passed:
it is recorded as not evaluated, with the reason, in :data:`RECORD`. Transition rules
(``oldSelf``) need the previous object and are recorded as skipped.

Usage from a test (the ``istio_crds`` fixture in ``tests/conftest.py`` skips or fails
when the CRDs are absent)::

    def test_my_object(istio_crds):
        for crd_set in CRD_SETS:
            assert validate_manifest(manifest, crd_set) == []

``python -m tests.support.istio_schema`` prints which CEL rules of each set cel-python
can and cannot evaluate.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import celpy
import celpy.celtypes
import celpy.evaluation
import jsonschema
import yaml

from tests.support.toolchain import REPOSITORY, toolchain_env

__all__ = [
    "CRD_DIR",
    "CRD_SETS",
    "NEWEST",
    "OLDEST",
    "RECORD",
    "REFERENCE_DIR",
    "REFERENCE_SETS",
    "CelRecord",
    "CelRule",
    "CrdSetUnavailable",
    "assert_valid",
    "catalogue",
    "crd_file",
    "missing_crd_files",
    "validate_manifest",
]


def _toolchain_env() -> dict[str, str]:
    """``MESHLINK_ISTIO_CRDS`` and ``MESHLINK_ISTIO_CRD_SETS`` from the environment when both
    are set, otherwise from ``scripts/toolchain.sh``."""
    if os.environ.get("MESHLINK_ISTIO_CRDS") and os.environ.get("MESHLINK_ISTIO_CRD_SETS"):
        return dict(os.environ)
    return toolchain_env()


_ENV = _toolchain_env()

CRD_SETS: tuple[str, ...] = tuple(_ENV["MESHLINK_ISTIO_CRD_SETS"].split())
"""The Istio releases every emitted object must validate against, oldest first."""

OLDEST, NEWEST = CRD_SETS
"""The floor (the oldest release the module proxy serves) and the newest pinned release."""

CRD_DIR = Path(_ENV["MESHLINK_ISTIO_CRDS"])
"""The toolchain cache directory holding ``istio-<release>.yaml`` per set."""


class CrdSetUnavailable(FileNotFoundError):
    """The CRD files are not where the harness expects them."""


REFERENCE_SETS: tuple[str, ...] = ("1.22.8", "1.30.3")
"""Releases kept beside the repository in ``../shared/istio-crds`` on the project's own
machines (not in a user's clone): 1.22.8 is the floor the design names, older than any
release the module proxy serves, so it is checked wherever it is present."""

REFERENCE_DIR = REPOSITORY.parent / "shared" / "istio-crds"


def crd_file(crd_set: str, directory: Path | None = None) -> Path:
    if crd_set in CRD_SETS:
        default = CRD_DIR
    elif crd_set in REFERENCE_SETS:
        default = REFERENCE_DIR
    else:
        known = ", ".join((*CRD_SETS, *REFERENCE_SETS))
        raise ValueError(f"unknown CRD set {crd_set!r}; known: {known}")
    return (directory or default) / f"istio-{crd_set}.yaml"


def missing_crd_files(directory: Path = CRD_DIR) -> list[Path]:
    """The CRD files of :data:`CRD_SETS` that are not in ``directory``."""
    return [
        crd_file(crd_set, directory)
        for crd_set in CRD_SETS
        if not crd_file(crd_set, directory).is_file()
    ]


# --- CEL rules and the record of what was evaluated ---------------------------------

_CEL_MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})
_CEL_SUPPORTED = frozenset(celpy.evaluation.base_functions) | _CEL_MACROS


@dataclass(frozen=True)
class CelRule:
    """One ``x-kubernetes-validations`` entry at one place in one CRD version."""

    crd_set: str
    kind: str
    version: str
    path: str
    """Schema path, with ``[]`` for list items and ``{}`` for map values."""
    rule: str
    message: str

    @property
    def is_transition_rule(self) -> bool:
        return "oldSelf" in self.rule

    @property
    def unsupported_functions(self) -> tuple[str, ...]:
        """Functions the rule calls that cel-python does not provide (empty if it does not
        compile: that is reported separately)."""
        return _unsupported_functions(self.rule)

    def describe(self) -> str:
        return f"{self.crd_set} {self.kind}/{self.version} {self.path}: {self.rule}"


@dataclass
class CelRecord:
    """What the harness has checked since the process started (or since :meth:`clear`)."""

    objects_validated: Counter[str] = field(default_factory=Counter)
    """Manifests validated, per CRD set."""
    evaluations: Counter[CelRule] = field(default_factory=Counter)
    """Evaluations that produced a boolean, per rule."""
    failures: Counter[CelRule] = field(default_factory=Counter)
    """Evaluations that produced ``false`` or a runtime error on the data."""
    not_evaluated: dict[CelRule, str] = field(default_factory=dict)
    """Rules cel-python could not evaluate, with the reason."""
    skipped: dict[CelRule, str] = field(default_factory=dict)
    """Transition rules, which need the previous version of the object."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def clear(self) -> None:
        with self._lock:
            self.objects_validated.clear()
            self.evaluations.clear()
            self.failures.clear()
            self.not_evaluated.clear()
            self.skipped.clear()

    @property
    def rules_evaluated(self) -> set[CelRule]:
        return set(self.evaluations)

    def summary(self) -> str:
        """A few lines for a test report or an issue note."""
        total = sum(self.objects_validated.values())
        per_set = ", ".join(f"{s}: {n}" for s, n in sorted(self.objects_validated.items()))
        expressions = {rule.rule for rule in self.evaluations}
        lines = [
            f"Istio CRD validation: {total} manifests validated ({per_set or 'none'})",
            f"CEL: {len(self.evaluations)} rule sites evaluated "
            f"({len(expressions)} distinct expressions), "
            f"{sum(self.evaluations.values())} evaluations, "
            f"{sum(self.failures.values())} of them rejecting",
            f"CEL rules cel-python could not evaluate: {len(self.not_evaluated)}",
        ]
        for rule, reason in sorted(self.not_evaluated.items(), key=lambda i: i[0].describe()):
            lines.append(f"  - {rule.describe()} -- {reason}")
        if self.skipped:
            lines.append(f"CEL transition rules skipped: {len(self.skipped)}")
            for rule, reason in sorted(self.skipped.items(), key=lambda i: i[0].describe()):
                lines.append(f"  - {rule.describe()} -- {reason}")
        return "\n".join(lines)


RECORD = CelRecord()
"""The process-wide record; tests read it, ``pytest`` prints its summary."""


def _called_functions(tree: Any) -> Iterator[str]:
    # ``tree`` is the lark parse tree cel-python builds; calls are ``member_dot_arg``
    # (``x.f(...)``) and ``ident_arg`` (``f(...)``) nodes.
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and len(node.children) >= 2:
            name = node.children[1]
            if isinstance(name, str):
                yield str(name)
        elif node.data == "ident_arg" and node.children:
            name = node.children[0]
            if isinstance(name, str):
                yield str(name)


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


@functools.cache
def _compiled(rule: str) -> tuple[Any, Any, str | None]:
    """``(program, tree, None)`` or ``(None, None, reason)`` when cel-python cannot parse it."""
    environment = _environment()
    try:
        tree = environment.compile(rule)
    except Exception as error:  # celpy raises its own parse error types
        return None, None, f"cel-python cannot parse the rule: {error}".splitlines()[0]
    return environment.program(tree), tree, None


@functools.cache
def _unsupported_functions(rule: str) -> tuple[str, ...]:
    _, tree, _ = _compiled(rule)
    if tree is None:
        return ()
    return tuple(sorted({name for name in _called_functions(tree)} - _CEL_SUPPORTED))


def _reason_unsupported(names: Iterable[str]) -> str:
    return (
        f"cel-python lacks {', '.join(names)} (Kubernetes CEL extension libraries); "
        "the rule was not checked"
    )


# --- Loading the CRDs and preparing strict schemas ----------------------------------


@dataclass(frozen=True)
class _CrdVersion:
    crd_set: str
    group: str
    kind: str
    version: str
    served: bool
    schema: Mapping[str, Any]


@functools.cache
def _load(crd_set: str, directory: Path | None = None) -> dict[tuple[str, str, str], _CrdVersion]:
    path = crd_file(crd_set, directory)
    if not path.is_file():
        raise CrdSetUnavailable(f"Istio CRD set {crd_set} not found at {path}")
    with path.open(encoding="utf-8") as stream:
        documents = [d for d in yaml.load_all(stream, Loader=yaml.CSafeLoader) if d]
    versions: dict[tuple[str, str, str], _CrdVersion] = {}
    for document in documents:
        if document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        for version in spec["versions"]:
            key = (spec["group"], spec["names"]["kind"], version["name"])
            versions[key] = _CrdVersion(
                crd_set=crd_set,
                group=spec["group"],
                kind=spec["names"]["kind"],
                version=version["name"],
                served=bool(version.get("served", False)),
                schema=version["schema"]["openAPIV3Schema"],
            )
    return versions


_OBJECT_META: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _strict(schema: Any) -> Any:
    """A copy of a structural schema that makes unknown fields errors, as the API server's
    strict field validation does, and that plain JSON Schema can check."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    for key in ("properties",):
        if key in out:
            out[key] = {name: _strict(child) for name, child in out[key].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"])
    if "items" in out:
        out["items"] = _strict(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [_strict(child) for child in out[key]]
    if "not" in out:
        out["not"] = _strict(out["not"])
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string") and not any(k in out for k in ("anyOf", "oneOf")):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@functools.cache
def _validator(crd_set: str, group: str, kind: str, version: str) -> Any:
    crd = _load(crd_set)[(group, kind, version)]
    schema = _strict(copy.deepcopy(dict(crd.schema)))
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"type": "string"}
    schema["properties"]["kind"] = {"type": "string"}
    schema["properties"]["metadata"] = _OBJECT_META
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=_FORMATS)


# --- Validation ----------------------------------------------------------------------


def _format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _schema_errors(validator: Any, manifest: Mapping[str, Any]) -> list[str]:
    problems = []
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        where = _format_path(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            known = set(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - known)
            problems.append(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
        else:
            problems.append(f"{where}: {error.message}")
    return problems


class _Walk:
    """Evaluates the CEL rules and list-type constraints of one manifest."""

    def __init__(self, crd: _CrdVersion, records: tuple[CelRecord, ...]) -> None:
        self.crd = crd
        self.records = records
        self.problems: list[str] = []

    def node(
        self, schema: Mapping[str, Any], value: Any, path: list[str | int], spath: str
    ) -> None:
        for entry in schema.get("x-kubernetes-validations", ()):
            self.rule(entry, value, path, spath)
        if isinstance(value, list):
            self.list_type(schema, value, path)
            items = schema.get("items")
            if isinstance(items, Mapping):
                for index, item in enumerate(value):
                    self.node(items, item, [*path, index], f"{spath}[]")
        elif isinstance(value, dict):
            properties = schema.get("properties", {})
            additional = schema.get("additionalProperties")
            for key, child in value.items():
                if key in properties:
                    self.node(properties[key], child, [*path, key], f"{spath}.{key}".lstrip("."))
                elif isinstance(additional, Mapping):
                    self.node(additional, child, [*path, key], f"{spath}{{}}")

    def list_type(self, schema: Mapping[str, Any], value: list[Any], path: list[str | int]) -> None:
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: list[Any] = []
            for item in value:
                if item in seen:
                    self.problems.append(f"{_format_path(path)}: duplicate entry {item!r}")
                seen.append(item)
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen_keys: set[tuple[Any, ...]] = set()
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    continue
                key = tuple(item.get(k) for k in keys)
                if key in seen_keys:
                    self.problems.append(
                        f"{_format_path([*path, index])}: duplicate entry for "
                        f"{dict(zip(keys, key, strict=True))}"
                    )
                seen_keys.add(key)

    def rule(self, entry: Mapping[str, Any], value: Any, path: list[str | int], spath: str) -> None:
        rule = CelRule(
            crd_set=self.crd.crd_set,
            kind=self.crd.kind,
            version=self.crd.version,
            path=spath or "<root>",
            rule=str(entry["rule"]),
            message=str(entry.get("message", "")),
        )
        if rule.is_transition_rule:
            for record in self.records:
                record.skipped[rule] = "transition rule: oldSelf needs the stored object"
            return
        program, _, parse_failure = _compiled(rule.rule)
        if program is None:
            for record in self.records:
                record.not_evaluated[rule] = parse_failure or "cel-python cannot parse the rule"
            return
        missing = _unsupported_functions(rule.rule)
        try:
            result = program.evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as error:
            result = error
        if isinstance(result, celpy.CELEvalError):
            text = str(result)
            if missing or "undeclared reference" in text:
                names = missing or ("a function it calls",)
                for record in self.records:
                    record.not_evaluated[rule] = _reason_unsupported(names)
                return
            for record in self.records:
                record.failures[rule] += 1
            self.problems.append(
                f"{_format_path(path)}: {rule.message or 'rule failed'} "
                f"(rule {rule.rule!r} raised an error on this value: {text.splitlines()[0][:200]})"
            )
            return
        if not isinstance(result, celpy.celtypes.BoolType):
            for record in self.records:
                record.failures[rule] += 1
            self.problems.append(
                f"{_format_path(path)}: rule {rule.rule!r} returned {result!r}, not a boolean"
            )
            return
        for record in self.records:
            record.evaluations[rule] += 1
        if not result:
            for record in self.records:
                record.failures[rule] += 1
            self.problems.append(
                f"{_format_path(path)}: {rule.message or 'rule failed'} (rule {rule.rule!r})"
            )


def validate_manifest(
    manifest: Mapping[str, Any], crd_set: str, *, record: CelRecord | None = None
) -> list[str]:
    """Every problem the API server would report for ``manifest`` with CRD set ``crd_set``,
    one line each; an empty list means valid.

    What the CEL rules did is added to :data:`RECORD` and, if given, to ``record`` (so a
    test can look at one validation on its own). Raises :class:`CrdSetUnavailable` when
    the CRD files are missing.
    """
    crds = _load(crd_set)
    api_version = str(manifest.get("apiVersion", ""))
    kind = str(manifest.get("kind", ""))
    group, _, version = api_version.rpartition("/")
    where = f"{crd_set} {kind or '<no kind>'}/{_name(manifest)}"
    crd = crds.get((group, kind, version))
    if crd is None:
        served = sorted(v for (g, k, v) in crds if (g, k) == (group, kind))
        if served:
            return [f"{where}: apiVersion {api_version!r}: {kind} is served as {served}"]
        return [f"{where}: no CRD for apiVersion {api_version!r} kind {kind!r}"]
    if not crd.served:
        return [f"{where}: {api_version} {kind} is not served"]
    problems = _schema_errors(_validator(crd_set, group, kind, version), manifest)
    records = (RECORD,) if record is None else (RECORD, record)
    walk = _Walk(crd, records)
    with RECORD._lock:
        walk.node(crd.schema, dict(manifest), [], "")
        for each in records:
            each.objects_validated[crd_set] += 1
    problems.extend(walk.problems)
    return [f"{where}: {problem}" for problem in problems]


def assert_valid(manifest: Mapping[str, Any], crd_sets: Iterable[str] = CRD_SETS) -> None:
    """Fail with every problem, from every CRD set, if ``manifest`` is not valid."""
    problems = [p for crd_set in crd_sets for p in validate_manifest(manifest, crd_set)]
    if problems:
        raise AssertionError("manifest rejected by the Istio CRDs:\n" + "\n".join(problems))


def _name(manifest: Mapping[str, Any]) -> str:
    metadata = manifest.get("metadata")
    if isinstance(metadata, Mapping):
        return str(metadata.get("name", "<no name>"))
    return "<no name>"


def catalogue(crd_set: str, kinds: Iterable[str] | None = None) -> list[CelRule]:
    """Every CEL rule in the served versions of ``crd_set`` (optionally only ``kinds``)."""
    wanted = set(kinds) if kinds is not None else None
    rules: list[CelRule] = []

    def walk(crd: _CrdVersion, schema: Mapping[str, Any], spath: str) -> None:
        for entry in schema.get("x-kubernetes-validations", ()):
            rules.append(
                CelRule(
                    crd_set=crd_set,
                    kind=crd.kind,
                    version=crd.version,
                    path=spath or "<root>",
                    rule=str(entry["rule"]),
                    message=str(entry.get("message", "")),
                )
            )
        for key, child in schema.get("properties", {}).items():
            walk(crd, child, f"{spath}.{key}".lstrip("."))
        if isinstance(schema.get("items"), Mapping):
            walk(crd, schema["items"], f"{spath}[]")
        if isinstance(schema.get("additionalProperties"), Mapping):
            walk(crd, schema["additionalProperties"], f"{spath}{{}}")

    for crd in _load(crd_set).values():
        if crd.served and (wanted is None or crd.kind in wanted):
            walk(crd, crd.schema, "")
    return rules


def _main() -> None:
    istio_kinds = (
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "Sidecar",
        "PeerAuthentication",
        "AuthorizationPolicy",
    )
    for crd_set in CRD_SETS:
        for label, kinds in (("meshlink kinds", istio_kinds), ("all kinds", None)):
            rules = catalogue(crd_set, kinds)
            expressions = {rule.rule for rule in rules}
            unparsable = {r.rule for r in rules if _compiled(r.rule)[0] is None}
            lacking = {r.rule: r.unsupported_functions for r in rules if r.unsupported_functions}
            transition = {r.rule for r in rules if r.is_transition_rule}
            print(
                f"{crd_set} ({label}): {len(rules)} rule sites, {len(expressions)} distinct "
                f"expressions; cel-python cannot parse {len(unparsable)}, lacks functions for "
                f"{len(lacking)}, transition rules {len(transition)}"
            )
            if kinds is None:
                for rule_text, names in sorted(lacking.items()):
                    print(f"    needs {', '.join(names)}: {rule_text}")
                for rule_text in sorted(unparsable):
                    print(f"    unparsable: {rule_text}")


if __name__ == "__main__":
    _main()
