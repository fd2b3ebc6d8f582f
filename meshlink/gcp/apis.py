"""The Google APIs a link needs, enabled once per project.

Enabling an API is a project-wide switch shared by everything in the project, so each
(project, API) pair is declared exactly once here, even when the client, the server and the
fleet share a project. Destroying the stack leaves the APIs on: switching one off would
break anything else in the project that uses it.
"""

from __future__ import annotations

import re
from typing import Annotated, NotRequired, TypedDict

import pulumi
from pulumi_gcp import projects
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from meshlink.argdocs import documents
from meshlink.gcp._validation import ProjectId
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import validate_args

COMPONENT_TYPE = "meshlink:index:ProjectApis"

DEFAULT_SERVICES: tuple[str, ...] = (
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "dns.googleapis.com",
    "gkehub.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "mesh.googleapis.com",
    "monitoring.googleapis.com",
)
"""What the networks, clusters, fleet registration, managed mesh and private DNS use."""

_SERVICE_RE = re.compile(r"^[a-z][a-z0-9-]*\.googleapis\.com$")


def _check_service(value: str) -> str:
    if not _SERVICE_RE.match(value):
        raise ValueError(f"{value!r} is not an API service name such as 'container.googleapis.com'")
    return value


ServiceName = Annotated[str, AfterValidator(_check_service)]


class ProjectApisArgs(TypedDict):
    """Projects and the APIs to enable in each."""

    projects: list[str]
    """Every project the link uses: client, server and fleet host. Repeats are fine; each
    project is handled once."""
    services: NotRequired[list[str]]
    """The APIs to enable in each project. Defaults to ``DEFAULT_SERVICES``."""


class ProjectApisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    projects: list[ProjectId] = Field(min_length=1)
    services: list[ServiceName] = Field(default_factory=lambda: list(DEFAULT_SERVICES))


@documents(ProjectApisArgs)
class ProjectApis(pulumi.ComponentResource):
    """One ``projects.Service`` per (project, API), never disabled on destroy.

    Resources that need the APIs wait on them through ``depends_on``: pass
    ``apis.for_project(project)`` to the network, cluster and fleet components of that
    project. Each side waits only on its own project's APIs, so the two clusters still do
    not wait on each other.
    """

    settings: ProjectApisSettings
    services: dict[str, list[projects.Service]]
    """The ``projects.Service`` resources of each project."""
    enabled: Registered[dict[str, list[pulumi.Output[str]]]]
    """The APIs enabled in each project."""

    def __init__(
        self,
        name: str,
        args: ProjectApisArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(ProjectApisSettings, args, where=f"ProjectApis {name!r}")
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        self.services = {}
        for project in dict.fromkeys(settings.projects):
            self.services[project] = [
                projects.Service(
                    f"{name}-{project}-{service.split('.', 1)[0]}",
                    project=project,
                    service=service,
                    disable_on_destroy=False,
                    disable_dependent_services=False,
                    opts=child,
                )
                for service in dict.fromkeys(settings.services)
            ]
        self.enabled = {
            project: [s.service for s in services] for project, services in self.services.items()
        }
        register_declared_outputs(self)

    def for_project(self, project: str) -> list[pulumi.Resource]:
        """What a resource in ``project`` should wait on. Raises ``KeyError`` for a project
        this component was not given, so a missing project is noticed at declaration time."""
        if project not in self.services:
            raise KeyError(f"ProjectApis was not given project {project!r}; add it to 'projects'")
        return list(self.services[project])
