"""The ``meshlink`` command: ``render`` and ``rehearse``, both offline."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from meshlink import __version__
from meshlink.extras import MissingExtraError
from meshlink.validation import MeshlinkValidationError

SECRETS_HELP = (
    "YAML file mapping fully qualified config keys (meshlink:ca_key_pem) to the plaintext of "
    "their secure: values; the environment variable MESHLINK_RENDER_SECRETS names one too"
)
STACK_OUTPUTS_HELP = (
    "YAML file mapping a referenced stack name (org/project/stack) to "
    "{outputs: {...}, secret: [names]}; without it, stack references give placeholders"
)


class UsageError(ValueError):
    """A mistake in the command line or in a file it names: one line, exit code 2."""


def _parse_now(text: str) -> dt.datetime:
    # argparse already prefixes the message with "argument --now:", so it is not repeated.
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (for example 2026-01-01T00:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{what} {path}: {error}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{what} {path}: expected a mapping")
    return loaded


def _read_secrets(path: Path) -> dict[str, str]:
    """The ``--secrets`` file. Its content is secret, so no message quotes any of it: a
    YAML parser's error shows the offending line, and that line may be part of a key."""
    try:
        text = path.read_text()
    except OSError as error:
        raise UsageError(f"secrets file {path}: cannot be read ({error.strerror})") from None
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark is not None else ""
        raise UsageError(
            f"secrets file {path}: not valid YAML{where} (content not shown: it is "
            "secret); expected a mapping of fully qualified keys to strings"
        ) from None
    if not isinstance(loaded, dict):
        raise UsageError(
            f"secrets file {path}: expected a mapping of fully qualified keys "
            "(meshlink:ca_key_pem) to strings"
        )
    bad = sorted(str(k) for k, v in loaded.items() if not isinstance(v, str))
    if bad:
        raise UsageError(
            f"secrets file {path}: the values of {', '.join(bad)} must be strings "
            "(values not shown: they are secret)"
        )
    return {str(k): v for k, v in loaded.items()}


def _stack_references(path: Path | None) -> tuple[dict[str, Mapping[str, Any]], dict]:
    if path is None:
        return {}, {}
    outputs: dict[str, Mapping[str, Any]] = {}
    secret: dict[str, frozenset[str]] = {}
    for stack_name, entry in _read_mapping(path, "stack outputs file").items():
        if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
            raise UsageError(f"stack outputs file {path}: {stack_name}.outputs missing")
        outputs[stack_name] = entry["outputs"]
        secret[stack_name] = frozenset(entry.get("secret", []))
    return outputs, secret


def _render(args: argparse.Namespace) -> int:
    import pulumi

    from meshlink.offline.program import ProgramError, load_program
    from meshlink.offline.render import RenderError, render_program

    secrets_file = args.secrets or os.environ.get("MESHLINK_RENDER_SECRETS")
    secrets = _read_secrets(Path(secrets_file)) if secrets_file else {}
    stack_refs, secret_refs = _stack_references(args.stack_outputs)
    try:
        program = load_program(args.program_dir, args.stack, secrets=secrets)
        print(
            f"meshlink render: program {program.directory} (project {program.project}), "
            f"stack {program.stack}",
            file=sys.stderr,
        )
        print(
            "meshlink render: running it on the offline engine (mock engine, pulumi-tls "
            f"emulation), then writing {args.out}",
            file=sys.stderr,
        )
        result = render_program(
            program,
            args.out,
            include_private_keys=args.include_private_keys,
            now=args.now,
            stack_references=stack_refs,
            secret_stack_outputs=secret_refs,
            placeholder_stack_references=args.stack_outputs is None,
        )
    except (ProgramError, RenderError, MeshlinkValidationError) as error:
        print(f"meshlink render: {error}", file=sys.stderr)
        return 2
    except pulumi.ConfigMissingError as error:
        # A program of the user's own that reads its config with pulumi.Config.
        print(f"meshlink render: configuration: {error.key}: is required", file=sys.stderr)
        return 2
    except pulumi.ConfigTypeError as error:
        # Pulumi's own message quotes the value, which may be a secret: name the key only.
        print(
            f"meshlink render: configuration: {error.key}: expected a value of type "
            f"{error.expect_type}",
            file=sys.stderr,
        )
        return 2
    for warning in result.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    for cluster, count in result.objects_per_cluster().items():
        print(f"  cluster {cluster}: {count} Kubernetes objects")
    print(
        f"  gcp: {len(result.gcp_files)} resources; certs: {len(result.cert_files)}; "
        f"private keys: {len(result.key_files) if args.include_private_keys else 'redacted'}"
    )
    print(f"  written to {args.out}")
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    rehearse = importlib.import_module("meshlink.offline.rehearse")
    argv = [str(args.render_dir)] + (["--json"] if args.json else [])
    argv += [f"--partner={value}" for value in args.partner]
    return int(rehearse.main(argv))


def _version() -> str:
    try:
        return importlib.metadata.version("meshlink")
    except importlib.metadata.PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshlink",
        description="Offline tools for meshlink programs: no Pulumi CLI and no cloud needed.",
    )
    parser.add_argument("--version", action="version", version=f"meshlink {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser(
        "render", help="render a stack into reviewable manifests, certificates and a summary"
    )
    render.add_argument(
        "program_dir",
        nargs="?",
        type=Path,
        default=Path("."),
        help="Pulumi program directory (default: the current directory)",
    )
    render.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    render.add_argument("--out", required=True, type=Path, help="output directory")
    render.add_argument(
        "--include-private-keys",
        action="store_true",
        help="write real Secret values and private keys (for rehearse only)",
    )
    render.add_argument(
        "--now",
        type=_parse_now,
        default=None,
        help="fix the clock for certificate validity (ISO 8601)",
    )
    render.add_argument("--secrets", type=Path, default=None, help=SECRETS_HELP)
    render.add_argument("--stack-outputs", type=Path, default=None, help=STACK_OUTPUTS_HELP)
    render.set_defaults(handler=_render)

    rehearse = commands.add_parser(
        "rehearse",
        help="run real MariaDB traffic through a rendered link and try bad clients",
        description=(
            "Run real MariaDB traffic through a rendered link and try bad clients. It needs "
            "a render written with --include-private-keys (meshlink render --stack dev "
            "--out DIR --include-private-keys): the gateways' keys come from there."
        ),
    )
    rehearse.add_argument(
        "render_dir", type=Path, help="output of meshlink render --include-private-keys"
    )
    rehearse.add_argument("--json", action="store_true", help="print the report as JSON")
    rehearse.add_argument(
        "--partner",
        metavar="HOST=CERT.pem,KEY.pem",
        action="append",
        default=[],
        help="a stand-in for a partner endpoint the render links to (repeatable)",
    )
    rehearse.set_defaults(handler=_rehearse)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    try:
        return int(handler(args))
    except (UsageError, MissingExtraError) as error:
        print(f"meshlink {args.command}: {error}", file=sys.stderr)
        return 2
