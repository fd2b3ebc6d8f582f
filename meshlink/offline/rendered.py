"""What a render produced, shared by the writer (``render``) and the reader (``summary``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RenderedObject:
    """One Kubernetes object written by a render: the cluster it belongs to, its file
    relative to the render's root, and the manifest itself."""

    cluster: str
    path: Path
    manifest: dict[str, Any]
