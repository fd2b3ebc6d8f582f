"""Declares one object of each kind the render layout distinguishes."""

import json

import pulumi
import pulumi_kubernetes as k8s
from local_helper import KEY_LIKE_VALUE

from meshlink.stack_outputs import StackOutputs

config = pulumi.Config()
namespace = config.require("namespace")
upstream = StackOutputs("upstream", "org/upstream/test", plain=["address"], secret=["password"])

for cluster in ("client", "server"):
    provider = k8s.Provider(cluster, kubeconfig="{}")
    opts = pulumi.ResourceOptions(provider=provider)
    k8s.core.v1.Namespace(f"{cluster}-ns", metadata={"name": namespace}, opts=opts)
    k8s.core.v1.ConfigMap(
        f"{cluster}-settings",
        metadata={
            "name": "settings",
            "namespace": namespace,
            "labels": config.require_object("labels"),
        },
        data={
            "greeting": config.require("greeting"),
            "replicas": str(config.require_int("replicas")),
            "address": upstream.require("address"),
        },
        opts=opts,
    )
    k8s.core.v1.Secret(
        f"{cluster}-credential",
        metadata={"name": "credential", "namespace": namespace},
        string_data={
            "tls.key": pulumi.Output.secret(KEY_LIKE_VALUE),
            "token": config.require_secret("token"),
            "password": upstream.require("password"),
        },
        opts=opts,
    )
    k8s.core.v1.ServicePatch(
        f"{cluster}-patch",
        metadata={"name": "existing-gateway", "namespace": "gateways"},
        spec={"ports": [{"name": "tls-link", "port": 13306}]},
        opts=opts,
    )

pulumi.export("summary", json.dumps({"namespace": namespace}))
