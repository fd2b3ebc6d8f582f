"""The fleet's ``servicemesh`` feature, declared once per fleet host project.

A fleet feature is a singleton per project: declaring it once per cluster would make two
resources fight over one object, and deleting either would switch the mesh off for both.
So it lives in its own component, and every ``MeshCluster`` refers to it by the
``feature_name`` output.

The fleet's GKE Hub and Cloud Service Mesh service agents
(``service-<number>@gcp-sa-gkehub`` and ``@gcp-sa-servicemesh``) are created here with
``projects.ServiceIdentity`` (``gcloud beta services identity create``) before anything
is granted to them. Google creates service agents as services are enabled and used, a
role cannot be granted to one that does not exist yet, and one created on request gets
none of the roles it is normally granted automatically
(https://cloud.google.com/iam/docs/create-service-agents). So both agents are created
first and then granted their service-agent roles explicitly: in the fleet project itself
and in every member project.

One fleet per mesh: managed Cloud Service Mesh joins clusters of different projects into
one mesh only when they are registered to the same fleet host project and share a VPC on
the same network (https://cloud.google.com/service-mesh/docs/managed/provision-managed-anthos-service-mesh,
"Requirements"). A link's two sides have networks of their own, so each side is a fleet
and a mesh of its own (its own ``mesh_id``, its own mesh CA), and they trust each other
only through the link CA at the gateways.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi
from pulumi_gcp import gkehub, organizations, projects
from pydantic import BaseModel, ConfigDict

from meshlink.argdocs import documents
from meshlink.gcp._validation import ProjectId
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:ServiceMeshFeature"

FLEET_LOCATION = "global"
"""Where the ``servicemesh`` feature and meshlink's memberships live."""

HUB_AGENT_ROLE = "roles/gkehub.serviceAgent"
MESH_AGENT_ROLE = "roles/anthosservicemesh.serviceAgent"

HUB_SERVICE = "gkehub.googleapis.com"
"""Its service agent: ``service-<number>@gcp-sa-gkehub.iam.gserviceaccount.com``."""
MESH_SERVICE = "meshconfig.googleapis.com"
"""Its service agent: ``service-<number>@gcp-sa-servicemesh.iam.gserviceaccount.com``."""


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
    """Projects of the clusters that register to this fleet. In each of them and in the
    fleet project, the fleet's GKE Hub and Cloud Service Mesh service agents are granted
    their service-agent roles, which registration and managed mesh provisioning need.
    Clusters of different projects in one fleet form one mesh only in a shared VPC (see
    the module docstring)."""


class ServiceMeshFeatureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fleet_project: ProjectId
    member_projects: list[ProjectId] = []


@documents(ServiceMeshFeatureArgs)
class ServiceMeshFeature(pulumi.ComponentResource):
    """``gkehub.Feature("servicemesh")`` in the fleet host project, plus the cross-project
    grants its members need."""

    settings: ServiceMeshFeatureSettings
    feature: gkehub.Feature
    hub_agent: projects.ServiceIdentity
    mesh_agent: projects.ServiceIdentity
    grants: list[projects.IAMMember]
    project_number: Registered[pulumi.Output[str]]
    """The fleet host project's number."""
    mesh_id: Registered[pulumi.Output[str]]
    """``proj-<fleet project number>``: the ``mesh_id`` label every member cluster carries."""
    feature_name: Registered[pulumi.Output[str]]
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
        self.hub_agent = projects.ServiceIdentity(
            f"{name}-hub-agent", project=fleet, service=HUB_SERVICE, opts=child
        )
        self.mesh_agent = projects.ServiceIdentity(
            f"{name}-mesh-agent", project=fleet, service=MESH_SERVICE, opts=child
        )
        agents = [self.hub_agent, self.mesh_agent]
        self.feature = gkehub.Feature(
            f"{name}-feature",
            name="servicemesh",
            location=FLEET_LOCATION,
            project=fleet,
            opts=pulumi.ResourceOptions(parent=self, depends_on=agents),
        )

        # The grants name the agents by the identities' own output, and wait for them.
        after_agents = pulumi.ResourceOptions(parent=self, depends_on=agents)
        self.grants = []
        for member_project in dict.fromkeys([fleet, *settings.member_projects]):
            self.grants.append(
                projects.IAMMember(
                    f"{name}-{member_project}-hub-agent",
                    project=member_project,
                    role=HUB_AGENT_ROLE,
                    member=self.hub_agent.member,
                    opts=after_agents,
                )
            )
            self.grants.append(
                projects.IAMMember(
                    f"{name}-{member_project}-mesh-agent",
                    project=member_project,
                    role=MESH_AGENT_ROLE,
                    member=self.mesh_agent.member,
                    opts=after_agents,
                )
            )

        self.feature_name = pulumi.Output.all(
            self.feature.name, *[grant.id for grant in self.grants]
        ).apply(lambda values: str(values[0]))

        register_declared_outputs(self)

    @property
    def fleet_project(self) -> str:
        return self.settings.fleet_project
