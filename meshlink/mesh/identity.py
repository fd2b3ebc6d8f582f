"""Who the client cluster is, as the link certificates and the server Gateway say it."""

from __future__ import annotations

from typing import TypedDict

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from meshlink.validation import Fqdn, check_fqdn, check_uri_san


class ClientIdentityArgs(TypedDict, total=False):
    """The SAN of the client certificate: one DNS name or one URI."""

    dns_name: str
    """e.g. ``client-a.link.example.com``."""
    uri: str
    """e.g. ``spiffe://link.example.com/cluster/client-a``."""


def check_identity(value: str) -> str:
    """A SAN as the server Gateway lists it: a URI when it has a scheme, else a DNS name."""
    if "://" in value:
        return check_uri_san(value)
    return check_fqdn(value)


class ClientIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dns_name: Fqdn | None = None
    uri: str | None = None

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else check_uri_san(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> ClientIdentity:
        if (self.dns_name is None) == (self.uri is None):
            raise ValueError("give exactly one of dns_name or uri")
        return self

    @property
    def san(self) -> str:
        value = self.dns_name if self.dns_name is not None else self.uri
        assert value is not None
        return value
