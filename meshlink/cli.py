"""The ``meshlink`` command: ``render`` and ``rehearse``, both offline."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from meshlink.validation import MeshlinkValidationError

SECRETS_HELP = (
    "YAML file mapping fully qualified config keys (meshlink:ca_key_pem) to the plaintext of "
    "their secure: values; the environment variable MESHLINK_RENDER_SECRETS names one too"
)
STACK_OUTPUTS_HELP = (
    "YAML file mapping a referenced stack name (org/project/stack) to "
    "{outputs: {...}, secret: [names]}; without it, stack references give placeholders"
)


def _parse_now(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--now: {text!r} is not an ISO 8601 time (for example 2026-01-01T00:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SystemExit(f"meshlink: {what} {path}: {error}") from None
    if not isinstance(loaded, dict):
        raise SystemExit(f"meshlink: {what} {path}: expected a mapping")
    return loaded


def _stack_references(path: Path | None) -> tuple[dict[str, Mapping[str, Any]], dict]:
    if path is None:
        return {}, {}
    outputs: dict[str, Mapping[str, Any]] = {}
    secret: dict[str, frozenset[str]] = {}
    for stack_name, entry in _read_mapping(path, "stack outputs file").items():
        if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
            raise SystemExit(f"meshlink: stack outputs file {path}: {stack_name}.outputs missing")
        outputs[stack_name] = entry["outputs"]
        secret[stack_name] = frozenset(entry.get("secret", []))
    return outputs, secret


def _render(args: argparse.Namespace) -> int:
    from meshlink.offline.program import ProgramError, load_program
    from meshlink.offline.render import RenderError, render_program

    secrets_file = args.secrets or os.environ.get("MESHLINK_RENDER_SECRETS")
    secrets = (
        {str(k): str(v) for k, v in _read_mapping(Path(secrets_file), "secrets file").items()}
        if secrets_file
        else {}
    )
    stack_refs, secret_refs = _stack_references(args.stack_outputs)
    try:
        program = load_program(args.program_dir, args.stack, secrets=secrets)
        print(
            f"meshlink render: program {program.directory} (project {program.project}), "
            f"stack {program.stack}"
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
    return int(rehearse.main(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshlink",
        description="Offline tools for meshlink programs: no Pulumi CLI and no cloud needed.",
    )
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
        "rehearse", help="run real MariaDB traffic through a rendered link and try bad clients"
    )
    rehearse.add_argument("render_dir", type=Path)
    rehearse.add_argument("--json", action="store_true", help="print the report as JSON")
    rehearse.set_defaults(handler=_rehearse)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))
