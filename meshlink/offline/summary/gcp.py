"""The GCP projects, regions and GKE clusters, from the inputs of the GCP resources
declared."""

from __future__ import annotations

from meshlink.offline.engine import OfflineRun, Registration
from meshlink.offline.summary.markdown import code_list


def gcp_sections(run: OfflineRun) -> list[str]:
    """Projects, regions and GKE clusters, from the inputs of the GCP resources declared."""
    gcp = [r for r in run.registrations if r.type.startswith("gcp:") and r.custom]
    if not gcp:
        return []
    lines = [
        "## GCP projects, regions and clusters",
        "",
        "| project | regions and zones | resources |",
        "|---|---|---|",
    ]
    per_project: dict[str, list[Registration]] = {}
    for r in gcp:
        per_project.setdefault(str(r.inputs.get("project", "(provider default)")), []).append(r)
    for project, registrations in sorted(per_project.items()):
        places = sorted(
            {
                str(r.inputs[key])
                for r in registrations
                for key in ("region", "location", "zone")
                if isinstance(r.inputs.get(key), str)
            }
        )
        lines.append(f"| `{project}` | {code_list(places)} | {len(registrations)} |")
    clusters = [r for r in gcp if r.type == "gcp:container/cluster:Cluster"]
    if clusters:
        lines += [
            "",
            "| GKE cluster | project | location | network | API endpoint reachable from |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(clusters, key=lambda r: str(r.inputs.get("name", r.name))):
            private = r.inputs.get("privateClusterConfig") or {}
            authorized = (r.inputs.get("masterAuthorizedNetworksConfig") or {}).get(
                "cidrBlocks", []
            )
            if private.get("enablePrivateEndpoint"):
                reach = "private endpoint only"
            elif authorized:
                reach = code_list(block.get("cidrBlock") for block in authorized)
            else:
                reach = "**anywhere** (no authorised networks)"
            network = str(r.inputs.get("network", "?")).rsplit("/", 1)[-1]
            lines.append(
                f"| `{r.inputs.get('name', r.name)}` | `{r.inputs.get('project', '?')}` | "
                f"`{r.inputs.get('location', '?')}` | `{network}` | {reach} |"
            )
    return lines


def gke_cluster_of_provider(run: OfflineRun) -> dict[str, Registration]:
    """The GKE cluster behind each Kubernetes provider, by provider name: the cluster the
    provider depends on, or else the one declared by the same component."""
    clusters = run.of_type("gcp:container/cluster:Cluster")
    found: dict[str, Registration] = {}
    for provider in run.of_type("pulumi:providers:kubernetes"):
        for cluster in clusters:
            if run.depends_on(provider.urn, cluster.urn) or (
                provider.parent and cluster.parent == provider.parent
            ):
                found[provider.name] = cluster
                break
    return found
