"""Where ``scripts/toolchain.sh`` keeps what it builds and fetches, asked of the script itself
(``scripts/toolchain.sh env``), so the cache layout is written down in one place."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def toolchain_env() -> dict[str, str]:
    """The ``MESHLINK_*`` variables the script prints, unquoted."""
    printed = subprocess.run(
        ["bash", str(REPOSITORY / "scripts" / "toolchain.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = (line.split("=", 1) for line in printed.splitlines() if "=" in line)
    return {key: value.strip('"') for key, value in pairs}
