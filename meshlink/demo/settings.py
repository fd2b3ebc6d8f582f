"""What the MySQL demo is given (``MySqlDemoArgs``, checked by ``MySqlDemoSettings``), and
the names and port of its MySQL server, which the dev stack's configuration checks the
linked service against."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.validation import Fqdn, ImageRef, KubernetesLabel, Port

DEMO_MYSQL_SERVICE = "mysql"
"""The demo MySQL server's Service name."""
DEMO_MYSQL_PORT = 3306
DEMO_MYSQL_SELECTOR = {"app.kubernetes.io/name": "mysql"}
"""The demo MySQL server's pod selector, which the link's target policies select too."""


class MySqlDemoArgs(TypedDict):
    """Where the demo runs and what the client connects to."""

    server_provider: k8s.Provider
    """The server cluster's provider."""
    client_provider: k8s.Provider
    """The client cluster's provider."""
    fqdn: str
    """The linked service's FQDN, as client workloads use it."""
    app_port: NotRequired[int]
    """The port client workloads connect to (default 3306)."""
    server_namespace: NotRequired[str]
    """Namespace of the MySQL server (default ``demo-db``); the link's target host is
    ``mysql.<server_namespace>.svc.cluster.local``."""
    client_namespace: NotRequired[str]
    """Namespace of the MySQL client (default ``demo-app``); it must be one of the link's
    client namespaces."""
    server_image: NotRequired[str]
    """MySQL server image pinned by tag or digest (default ``mysql:8.4.3``)."""
    client_image: NotRequired[str]
    """Image with the ``mysql`` command-line client (default ``mysql:8.4.3``)."""
    revision: NotRequired[str]
    """Istio revision to inject from; ``istio-injection: enabled`` when omitted."""


class MySqlDemoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    server_provider: Any
    client_provider: Any
    fqdn: Fqdn
    app_port: Port = DEMO_MYSQL_PORT
    server_namespace: KubernetesLabel = "demo-db"
    client_namespace: KubernetesLabel = "demo-app"
    server_image: ImageRef = "mysql:8.4.3"
    client_image: ImageRef = "mysql:8.4.3"
    revision: KubernetesLabel | None = Field(default=None)

    @field_validator("server_provider", "client_provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        if not isinstance(value, k8s.Provider):
            raise ValueError(f"expected a kubernetes.Provider, got {type(value).__name__}")
        return value

    @model_validator(mode="after")
    def _two_clusters(self) -> MySqlDemoSettings:
        if self.server_provider is self.client_provider:
            raise ValueError(
                "server_provider and client_provider are the same provider; the demo shows a "
                "link between two clusters"
            )
        return self

    @property
    def injection(self) -> dict[str, str]:
        return {"istio.io/rev": self.revision} if self.revision else {"istio-injection": "enabled"}
