"""The fleet's ``servicemesh`` feature, declared once per fleet host project.

A fleet feature is a singleton per project: declaring it once per cluster would make two
resources fight over one object, and deleting either would switch the mesh off for both.
So it lives in its own component, and every ``MeshCluster`` refers to it by the
``feature_name`` output.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi
from pulumi_gcp import gkehub, organizations, projects
from pydantic import BaseModel, ConfigDict

from meshlink.gcp._validation import ProjectId
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:ServiceMeshFeature"

FLEET_LOCATION = "global"
"""Where the ``servicemesh`` feature and meshlink's memberships live."""

HUB_AGENT_ROLE = "roles/gkehub.serviceAgent"
MESH_AGENT_ROLE = "roles/anthosservicemesh.serviceAgent"


def fleet_project_number(fleet_project: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The fleet host project's number, looked up rather than typed in: the managed mesh
    identifies the mesh by it (``mesh_id: proj-<number>``), and a mistyped number would
    silently put a cluster in a different mesh."""
    result = organizations.get_project_output(
        project_id=fleet_project, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return result.number.apply(lambda number: str(number))


def mesh_id_label(project_number: str) -> str:
    return f"proj-{project_number}"


class ServiceMeshFeatureArgs(TypedDict):
    """The fleet host project, and the projects whose clusters join its mesh."""

    fleet_project: str
    """The fleet host project: where the feature, and every cluster's membership, live."""
    member_projects: NotRequired[list[str]]
    """Projects of the clusters that register to this fleet. For each one other than the
    fleet project, the fleet's GKE Hub and Cloud Service Mesh service agents are granted
    their service-agent roles there, which cross-project registration and managed mesh
    provisioning need."""


class ServiceMeshFeatureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fleet_project: ProjectId
    member_projects: list[ProjectId] = []


class ServiceMeshFeature(pulumi.ComponentResource):
    """``gkehub.Feature("servicemesh")`` in the fleet host project, plus the cross-project
    grants its members need."""

    settings: ServiceMeshFeatureSettings
    feature: gkehub.Feature
    grants: list[projects.IAMMember]
    project_number: pulumi.Output[str]
    """The fleet host project's number."""
    mesh_id: pulumi.Output[str]
    """``proj-<fleet project number>``: the ``mesh_id`` label every member cluster carries."""
    feature_name: pulumi.Output[str]
    """The feature's name (``servicemesh``). It resolves only once the feature and all the
    cross-project grants exist, so a ``MeshCluster`` given it registers after them."""

    def __init__(
        self,
        name: str,
        args: ServiceMeshFeatureArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(
            ServiceMeshFeatureSettings, args, where=f"ServiceMeshFeature {name!r}"
        )
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        fleet = settings.fleet_project
        child = pulumi.ResourceOptions(parent=self)

        self.project_number = fleet_project_number(fleet, self)
        self.mesh_id = self.project_number.apply(mesh_id_label)
        self.feature = gkehub.Feature(
            f"{name}-feature",
            name="servicemesh",
            location=FLEET_LOCATION,
            project=fleet,
            opts=child,
        )

        hub_agent = self.project_number.apply(
            lambda n: f"serviceAccount:service-{n}@gcp-sa-gkehub.iam.gserviceaccount.com"
        )
        mesh_agent = self.project_number.apply(
            lambda n: f"serviceAccount:service-{n}@gcp-sa-servicemesh.iam.gserviceaccount.com"
        )
        self.grants = []
        for member_project in dict.fromkeys(settings.member_projects):
            if member_project == fleet:
                continue
            self.grants.append(
                projects.IAMMember(
                    f"{name}-{member_project}-hub-agent",
                    project=member_project,
                    role=HUB_AGENT_ROLE,
                    member=hub_agent,
                    opts=child,
                )
            )
            self.grants.append(
                projects.IAMMember(
                    f"{name}-{member_project}-mesh-agent",
                    project=member_project,
                    role=MESH_AGENT_ROLE,
                    member=mesh_agent,
                    opts=child,
                )
            )

        self.feature_name = pulumi.Output.all(
            self.feature.name, *[grant.id for grant in self.grants]
        ).apply(lambda values: str(values[0]))

        self.register_outputs(
            {
                "feature_name": self.feature_name,
                "project_number": self.project_number,
                "mesh_id": self.mesh_id,
            }
        )

    @property
    def fleet_project(self) -> str:
        return self.settings.fleet_project
