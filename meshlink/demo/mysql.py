"""The ``MySqlDemo`` component: a MySQL server in the server cluster and a client in the
client cluster that queries it through the link (see the package docstring)."""

from __future__ import annotations

import shlex
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from meshlink.argdocs import documents
from meshlink.demo.settings import (
    DEMO_MYSQL_PORT,
    DEMO_MYSQL_SELECTOR,
    DEMO_MYSQL_SERVICE,
    MySqlDemoArgs,
    MySqlDemoSettings,
)
from meshlink.mesh.common import untyped
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:MySqlDemo"

PASSWORD_SECRET = "mysql-root"  # noqa: S105 (a Secret name, not a password)
CLIENT_PASSWORD_SECRET = "mysql-client"  # noqa: S105 (a Secret name, not a password)
PASSWORD_KEY = "password"  # noqa: S105 (a Secret key name)
CLIENT_USER = "linkdemo"
"""The demo client's MySQL user: created without privileges, which its query needs none of."""
PASSWORD_LENGTH = 32
PASSWORD_SPECIALS = "-_."  # noqa: S105 (a character set)
"""Special characters that need no quoting in a shell, a URL or a connection string."""

MYSQL_UID = 999
"""The ``mysql`` user of the official image; the entrypoint runs as it without root."""

CLIENT_INTERVAL_SECONDS = 30


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": "meshlink-demo",
        "app.kubernetes.io/managed-by": "meshlink",
    }


_POD_SECURITY = {
    "run_as_non_root": True,
    "run_as_user": MYSQL_UID,
    "run_as_group": MYSQL_UID,
    "fs_group": MYSQL_UID,
    "seccomp_profile": {"type": "RuntimeDefault"},
}
_CONTAINER_SECURITY = {
    "allow_privilege_escalation": False,
    "privileged": False,
    "read_only_root_filesystem": True,
    "run_as_non_root": True,
    "capabilities": {"drop": ["ALL"]},
}


def _password_env(name: str, secret: str = PASSWORD_SECRET) -> dict[str, Any]:
    return {
        "name": name,
        "value_from": {"secret_key_ref": {"name": secret, "key": PASSWORD_KEY}},
    }


def client_script(fqdn: str, port: int) -> str:
    """What the client pod runs: one query over the link every few seconds, with the
    outcome in its log (``kubectl logs``) so the link can be watched working."""
    host, port_text = shlex.quote(fqdn), str(port)
    return (
        "while true; do "
        f"if mysql --host={host} --port={port_text} --user={CLIENT_USER} --connect-timeout=5 "
        "--batch --execute='SELECT NOW() AS linked_at, @@hostname AS mysql_server'; "
        'then echo "link ok"; else echo "link failed"; fi; '
        f"sleep {CLIENT_INTERVAL_SECONDS}; done"
    )


def _mysql_container(image: str) -> dict[str, Any]:
    """The MySQL server container: its root password and the client's unprivileged user
    from the demo's Secrets, a writable data directory and nothing else writable."""
    return {
        "name": "mysql",
        "image": image,
        "env": [
            _password_env("MYSQL_ROOT_PASSWORD"),
            # The client's user, created with no privileges (no MYSQL_DATABASE, so
            # nothing is granted).
            {"name": "MYSQL_USER", "value": CLIENT_USER},
            _password_env("MYSQL_PASSWORD", CLIENT_PASSWORD_SECRET),
        ],
        "ports": [{"name": "tcp-mysql", "container_port": DEMO_MYSQL_PORT, "protocol": "TCP"}],
        "readiness_probe": {
            "tcp_socket": {"port": DEMO_MYSQL_PORT},
            "initial_delay_seconds": 10,
            "period_seconds": 10,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "security_context": _CONTAINER_SECURITY,
        "volume_mounts": [
            {"name": "data", "mount_path": "/var/lib/mysql"},
            {"name": "run", "mount_path": "/var/run/mysqld"},
            {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108
        ],
    }


@documents(MySqlDemoArgs)
class MySqlDemo(pulumi.ComponentResource):
    """A MySQL server behind the link and a client that queries it through the link."""

    settings: MySqlDemoSettings
    password: random.RandomPassword
    """The root password (server cluster only)."""
    client_password: random.RandomPassword
    """The ``linkdemo`` user's password."""
    server_namespace: k8s.core.v1.Namespace
    client_namespace: k8s.core.v1.Namespace
    """Declare the link after this namespace: its NetworkPolicy goes into it."""
    server_namespace_name: Registered[str]
    """Where the MySQL server runs."""
    client_namespace_name: Registered[str]
    """Where the demo client runs."""
    server_host: Registered[str]
    """The MySQL Service's cluster-local host name: the link's target."""
    client_target: Registered[str]
    """What the client connects to: the linked FQDN and the app port."""

    def __init__(
        self, name: str, args: MySqlDemoArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        settings = validate_args(MySqlDemoSettings, args, where=f"MySqlDemo {name!r}")
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings

        self.password = self._new_password(f"{name}-root-password")
        self.client_password = self._new_password(f"{name}-client-password")
        self.server_namespace = self._namespace(
            f"{name}-server", settings.server_namespace, settings.server_provider
        )
        self.client_namespace = self._namespace(
            f"{name}-client", settings.client_namespace, settings.client_provider
        )
        server_secrets = [
            self._secret(
                f"{name}-server-password",
                PASSWORD_SECRET,
                self.password,
                self.server_namespace,
                settings.server_provider,
            ),
            self._secret(
                f"{name}-server-client-password",
                CLIENT_PASSWORD_SECRET,
                self.client_password,
                self.server_namespace,
                settings.server_provider,
            ),
        ]
        client_secret = self._secret(
            f"{name}-client-password",
            CLIENT_PASSWORD_SECRET,
            self.client_password,
            self.client_namespace,
            settings.client_provider,
        )
        self._server(name, settings, server_secrets)
        self._client(name, settings, client_secret)
        self.server_namespace_name = settings.server_namespace
        self.client_namespace_name = settings.client_namespace
        self.server_host = f"{DEMO_MYSQL_SERVICE}.{settings.server_namespace}.svc.cluster.local"
        self.client_target = f"{settings.fqdn}:{settings.app_port}"
        register_declared_outputs(self)

    def _new_password(self, resource_name: str) -> random.RandomPassword:
        return random.RandomPassword(
            resource_name,
            length=PASSWORD_LENGTH,
            special=True,
            override_special=PASSWORD_SPECIALS,
            min_upper=2,
            min_lower=2,
            min_numeric=2,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _namespace(
        self, resource_name: str, namespace: str, provider: k8s.Provider
    ) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            f"{resource_name}-namespace",
            metadata={
                "name": namespace,
                "labels": {**_labels("mysql"), **self.settings.injection},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )

    def _secret(
        self,
        resource_name: str,
        secret_name: str,
        password: random.RandomPassword,
        namespace: k8s.core.v1.Namespace,
        provider: k8s.Provider,
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            resource_name,
            metadata={
                "name": secret_name,
                "namespace": namespace.metadata.name,
                "labels": _labels("mysql"),
            },
            type="Opaque",
            string_data=pulumi.Output.secret({PASSWORD_KEY: password.result}),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace]),
        )

    def _server(
        self, name: str, settings: MySqlDemoSettings, secrets: list[k8s.core.v1.Secret]
    ) -> None:
        labels = _labels("mysql")
        selector = dict(DEMO_MYSQL_SELECTOR)
        opts = pulumi.ResourceOptions(
            parent=self,
            provider=settings.server_provider,
            depends_on=[self.server_namespace, *secrets],
        )
        self.server_deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata={"name": "mysql", "namespace": settings.server_namespace, "labels": labels},
            spec=untyped(
                {
                    "replicas": 1,
                    # One pod owns the data directory at a time.
                    "strategy": {"type": "Recreate"},
                    "selector": {"match_labels": selector},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "automount_service_account_token": False,
                            "security_context": _POD_SECURITY,
                            "containers": [_mysql_container(settings.server_image)],
                            "volumes": [
                                {"name": "data", "empty_dir": {}},
                                {"name": "run", "empty_dir": {}},
                                {"name": "tmp", "empty_dir": {}},
                            ],
                        },
                    },
                }
            ),
            opts=opts,
        )
        self._declare_server_service(name, settings, labels, selector)

    def _declare_server_service(
        self,
        name: str,
        settings: MySqlDemoSettings,
        labels: dict[str, str],
        selector: dict[str, str],
    ) -> None:
        self.server_service = k8s.core.v1.Service(
            f"{name}-server-service",
            metadata={
                "name": DEMO_MYSQL_SERVICE,
                "namespace": settings.server_namespace,
                "labels": labels,
            },
            spec={
                "type": "ClusterIP",
                "selector": selector,
                # MySQL speaks first; Istio must treat it as opaque TCP, which the port
                # name and appProtocol both say.
                "ports": [
                    {
                        "name": "tcp-mysql",
                        "port": DEMO_MYSQL_PORT,
                        "target_port": DEMO_MYSQL_PORT,
                        "protocol": "TCP",
                        "app_protocol": "tcp",
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=settings.server_provider, depends_on=[self.server_namespace]
            ),
        )

    def _client(self, name: str, settings: MySqlDemoSettings, secret: k8s.core.v1.Secret) -> None:
        labels = _labels("mysql-client")
        selector = {"app.kubernetes.io/name": "mysql-client"}
        self.client_deployment = k8s.apps.v1.Deployment(
            f"{name}-client",
            metadata={
                "name": "mysql-client",
                "namespace": settings.client_namespace,
                "labels": labels,
            },
            spec=untyped(
                {
                    "replicas": 1,
                    "selector": {"match_labels": selector},
                    "template": {
                        "metadata": {
                            "labels": labels,
                            # Without it the first query can leave before the sidecar is up.
                            "annotations": {
                                "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}'
                            },
                        },
                        "spec": {
                            "automount_service_account_token": False,
                            "security_context": _POD_SECURITY,
                            "containers": [
                                {
                                    "name": "mysql-client",
                                    "image": settings.client_image,
                                    "command": ["/bin/sh", "-c"],
                                    "args": [client_script(settings.fqdn, settings.app_port)],
                                    # The mysql client reads the password from MYSQL_PWD, so it
                                    # never appears on a command line.
                                    "env": [_password_env("MYSQL_PWD", CLIENT_PASSWORD_SECRET)],
                                    "resources": {
                                        "requests": {"cpu": "10m", "memory": "32Mi"},
                                        "limits": {"cpu": "200m", "memory": "128Mi"},
                                    },
                                    "security_context": _CONTAINER_SECURITY,
                                    "volume_mounts": [
                                        {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108
                                    ],
                                }
                            ],
                            "volumes": [{"name": "tmp", "empty_dir": {}}],
                        },
                    },
                }
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=settings.client_provider,
                depends_on=[self.client_namespace, secret],
            ),
        )
