"""The workloads the program declares, with their images and replicas."""

from __future__ import annotations

from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.markdown import code_list

_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def workloads_section(objects: list[RenderedObject]) -> list[str]:
    rows = []
    for o in objects:
        if o.manifest.get("kind") not in _WORKLOAD_KINDS:
            continue
        metadata = o.manifest.get("metadata", {})
        spec = o.manifest.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        images = [c.get("image", "?") for c in pod.get("containers", [])]
        # Istio's gateway injection replaces the image "auto" with the proxy image
        # ("The auto image is a placeholder. The sidecar injector replaces it":
        # https://istio.io/latest/docs/reference/config/analysis/ist0146/).
        images = [
            "auto (the Istio proxy, injected)" if image == "auto" else image for image in images
        ]
        replicas = spec.get("replicas", "—" if o.manifest["kind"] == "DaemonSet" else 1)
        part_of = metadata.get("labels", {}).get("app.kubernetes.io/part-of", "—")
        rows.append(
            f"| `{o.cluster}` | `{metadata.get('namespace', '?')}` | "
            f"{o.manifest['kind']} `{metadata.get('name')}` | {replicas} | {code_list(images)} | "
            f"{part_of} |"
        )
    if not rows:
        return []
    return [
        "## Workloads",
        "",
        "`part of` is the `app.kubernetes.io/part-of` label: `meshlink-demo` marks the demo "
        "workloads, which a real link does without.",
        "",
        "| cluster | namespace | workload | replicas | images | part of |",
        "|---|---|---|---|---|---|",
        *sorted(rows),
    ]
