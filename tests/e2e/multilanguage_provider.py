"""The meshlink provider plugin as the YAML program of ``test_multilanguage`` runs it: the
shipped provider, plus the skip-await transform the Python e2e program registers for the
same reason (the local control planes run no pods), applied to every component's children.
The library never sets it."""

from __future__ import annotations

import sys
from typing import Any

import pulumi
from pulumi.provider import ConstructResult
from pulumi.provider import main as serve_provider

from meshlink.plugin import MeshlinkProvider
from tests.e2e.link_program import skip_kubelet_waits


class SkipAwaitProvider(MeshlinkProvider):
    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: Any,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        options = pulumi.ResourceOptions.merge(
            options, pulumi.ResourceOptions(transforms=[skip_kubelet_waits])
        )
        return super().construct(name, resource_type, inputs, options)


if __name__ == "__main__":
    serve_provider(SkipAwaitProvider(), sys.argv[1:])
