"""Reading another stack's outputs, for programs split across teams.

A program states up front which outputs it needs from a referenced stack and which of
them are secret. That makes a missing output a clear error naming the stack and key,
keeps secret outputs secret even if the producing stack forgot to mark them, and lets
``meshlink render`` stand in clearly marked placeholders for a stack it cannot read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

_DECLARED: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def placeholder(stack_name: str, key: str) -> str:
    return f"<placeholder: output {key} of stack {stack_name}>"


class StackOutputs:
    """The named outputs of one referenced stack."""

    def __init__(
        self,
        resource_name: str,
        stack_name: str,
        *,
        plain: Sequence[str] = (),
        secret: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        self.stack_name = stack_name
        self.plain = frozenset(plain)
        self.secret = frozenset(secret)
        _DECLARED[stack_name] = (self.plain, self.secret)
        self.reference = pulumi.StackReference(resource_name, stack_name, opts=opts)

    def require(self, key: str) -> pulumi.Output[Any]:
        if key not in self.plain | self.secret:
            raise KeyError(f"output {key!r} of stack {self.stack_name} was not declared as needed")
        value = self.reference.require_output(key)
        return pulumi.Output.secret(value) if key in self.secret else value


def placeholders_for(stack_name: str) -> tuple[Mapping[str, Any], frozenset[str]]:
    """Placeholder outputs for every output a program declared it needs from ``stack_name``."""
    plain, secret = _DECLARED.get(stack_name, (frozenset(), frozenset()))
    return {key: placeholder(stack_name, key) for key in sorted(plain | secret)}, secret
