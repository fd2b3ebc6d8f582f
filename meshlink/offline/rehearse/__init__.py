"""``meshlink rehearse RENDER_DIR``: evidence that a rendered link carries real MySQL
traffic over mutual TLS under the link CA, and refuses every client without the right
credentials, before anyone applies it to a cluster.

It reads only the render (Kubernetes objects, Secrets, certificates and, rendered with
``--include-private-keys``, private keys), never meshlink's Python objects, so what is
rehearsed is exactly what would be applied.

Exit status: 0 when the positive check and every negative case passed; 1 when a check
failed; 2 when the render is unreadable or its wiring is broken (nothing was started);
3 when a program could not be run (missing package, a server that did not start).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from types import FrameType

from meshlink.offline.rehearse.partner_plan import StandIn, StandInError, parse_stand_in
from meshlink.offline.rehearse.processes import ProcessError, ToolsMissingError
from meshlink.offline.rehearse.render import RenderError
from meshlink.offline.rehearse.report import to_json, to_text
from meshlink.offline.rehearse.runner import RehearsalReport, rehearse
from meshlink.offline.rehearse.wiring import WiringError

__all__ = ["RehearsalReport", "WiringError", "main", "rehearse"]

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_UNRUNNABLE = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshlink rehearse",
        description=(
            "Run a rendered link on loopback with MariaDB and HAProxy: prove that MySQL "
            "traffic crosses it over mutual TLS and that clients without the right "
            "credentials are refused."
        ),
    )
    parser.add_argument(
        "render_dir",
        metavar="RENDER_DIR",
        type=Path,
        help="a directory written by `meshlink render --include-private-keys`",
    )
    parser.add_argument("--json", action="store_true", help="print the evidence as JSON")
    parser.add_argument(
        "--partner",
        metavar="HOST=CERT.pem,KEY.pem",
        action="append",
        default=[],
        type=_stand_in,
        help=(
            "a stand-in for the partner endpoint HOST, which no Gateway of the render "
            "serves: a server certificate its CA signed (with any intermediates), and its "
            "key; repeat it for each partner"
        ),
    )
    parser.add_argument(
        "--target",
        metavar="ADDRESS=CERT.pem,KEY.pem",
        action="append",
        default=[],
        type=partial(_stand_in, flag="--target"),
        help=(
            "a stand-in for the external target at ADDRESS (its ServiceEntry endpoint), "
            "which speaks TLS: a server certificate the target's CA signed (with any "
            "intermediates), and its key; without it such a target is played in plain TCP; "
            "repeat it for each target"
        ),
    )
    return parser


def _stand_in(value: str, flag: str = "--partner") -> StandIn:
    try:
        return parse_stand_in(value, flag=flag)
    except StandInError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fail(as_json: bool, kind: str, message: str, problems: list[str] | None = None) -> None:
    if as_json:
        print(json.dumps({"ok": False, "error": kind, "message": message, "problems": problems}))
    else:
        print(f"meshlink rehearse: {message}", file=sys.stderr)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn a polite kill into an exception, so every started process is stopped and
    # the work directory removed on the way out.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main_thread else None
    try:
        return _run(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    progress = None if args.json else (lambda m: print(f"... {m}", file=sys.stderr, flush=True))
    try:
        report = rehearse(
            args.render_dir, progress=progress, partners=args.partner, targets=args.target
        )
    except WiringError as error:
        _fail(args.json, "wiring", str(error), list(error.problems))
        return EXIT_REFUSED
    except RenderError as error:
        _fail(args.json, "render", str(error))
        return EXIT_REFUSED
    except (ToolsMissingError, ProcessError) as error:
        _fail(args.json, "environment", str(error))
        return EXIT_UNRUNNABLE
    print(to_json(report) if args.json else to_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED
