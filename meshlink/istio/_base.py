"""What every Istio model shares: strictness, wire names, and how a spec is serialised."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class IstioApiVersion(StrEnum):
    """The API version written into ``apiVersion``.

    ``v1`` is served since Istio 1.22 and is what meshlink emits; ``v1beta1`` is for
    meshes that predate it. The spec is identical in both for every field meshlink uses.
    """

    V1 = "v1"
    V1BETA1 = "v1beta1"


class IstioModel(BaseModel):
    """Base of every model: unknown fields are errors (as with ``kubectl --validate=strict``),
    instances are immutable, Python uses snake_case and the wire camelCase."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=False,
        validate_default=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as Istio reads it: camelCase keys, enums as strings, unset fields
        omitted (an explicit ``None`` and "not set" mean the same to Istio)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class IstioSpec(IstioModel):
    """The ``spec`` of one Istio kind; ``API_GROUP`` and ``KIND`` say which."""

    API_GROUP: ClassVar[str]
    KIND: ClassVar[str]
    METADATA_NAME_IS_LABEL: ClassVar[bool] = False
    """Istio's validation wants a DNS label (no dots) as the object name of this kind."""
