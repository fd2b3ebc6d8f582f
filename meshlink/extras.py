"""Optional dependencies, grouped into the install extras of ``pyproject.toml``.

The core install (``pip install meshlink``) holds what ``meshlink.pki``, ``meshlink.mesh`` and
``meshlink.istio`` need on clusters that already exist. Everything else is an extra, so an
organisation that only links its own clusters does not install the GCP provider SDK:

- ``gcp``: ``meshlink.gcp`` and the stack programs (pulumi-gcp, pulumi-random, and ``readiness``);
- ``readiness``: readiness gates that poll a cluster for the mesh CRDs (the Kubernetes client);
- ``offline``: ``meshlink render`` and ``meshlink rehearse`` (bcrypt, for the random emulation).

A module that needs an extra calls :func:`require_extra` before importing it, so a missing
extra fails with the ``pip install`` line to run instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib.util

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "gcp": ("pulumi_gcp", "pulumi_random"),
    "readiness": ("kubernetes",),
    "offline": ("bcrypt",),
}
"""The top-level modules each extra installs (pyproject.toml lists their distributions)."""


class MissingExtraError(ImportError):
    """A feature was used whose install extra is not installed."""

    def __init__(self, extra: str, feature: str, missing: list[str]) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the meshlink[{extra}] extra ({', '.join(missing)} not installed):"
            f" pip install 'meshlink[{extra}]'"
        )


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` naming ``feature`` unless ``extra`` is installed."""
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRA_MODULES)}")
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(extra, feature, missing)
