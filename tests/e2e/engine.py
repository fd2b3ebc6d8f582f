"""The real Pulumi engine, driven the way a user's ``pulumi up`` drives it, with nothing
fetched: a ``file://`` backend and a ``PULUMI_HOME`` in a temporary directory, a passphrase
secrets provider, automatic plugin acquisition off, and every plugin found on ``PATH``
(built by ``make toolchain``).

Programs run as Automation API inline programs: the test process serves the language
runtime and the ``pulumi`` CLI connects to it (``--client``). The Python language host
binary is not involved, because its Go module is not served by the module proxy (see the
README); everything else is the real thing: the engine, the state, the secrets, the
Kubernetes provider plugin and Python dynamic providers in their own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pulumi import automation as auto

from tests.e2e.toolchain import Toolchain

# A throwaway state in a temporary directory.
PASSPHRASE = "meshlink-e2e-passphrase"


@dataclass
class Engine:
    toolchain: Toolchain
    home: Path
    """``PULUMI_HOME``, the backend and every workspace live under it."""

    @property
    def backend(self) -> Path:
        return self.home / "state"

    @property
    def env(self) -> dict[str, str]:
        venv_bin = Path(sys.executable).parent
        return {
            "PULUMI_HOME": str(self.home / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            # Python dynamic providers run in a process the engine starts; they need this
            # virtualenv's interpreter, where meshlink is installed.
            "PULUMI_PYTHON_CMD": sys.executable,
            "PATH": os.pathsep.join(
                [self.toolchain.plugin_path, str(venv_bin), os.environ.get("PATH", "")]
            ),
            "NO_COLOR": "1",
        }

    def stack(
        self, project: str, stack: str, program: Callable[[], None], config: Mapping[str, str]
    ) -> auto.Stack:
        self.backend.mkdir(parents=True, exist_ok=True)
        work_dir = self.home / "work" / project
        work_dir.mkdir(parents=True, exist_ok=True)
        # The Automation API reads the environment of this process too (for example when it
        # resolves the backend): set it here, not only in the workspace.
        os.environ.update(self.env)
        workspace = auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_home=self.env["PULUMI_HOME"],
            pulumi_command=auto.PulumiCommand(
                root=str(self.toolchain.pulumi_bin.parent), skip_version_check=True
            ),
            env_vars=self.env,
            secrets_provider="passphrase",
            project_settings=auto.ProjectSettings(
                name=project,
                runtime="python",
                backend=auto.ProjectBackend(url=f"file://{self.backend}"),
            ),
        )
        created = auto.create_or_select_stack(
            stack_name=stack, project_name=project, program=program, opts=workspace
        )
        for key, value in config.items():
            created.set_config(key, auto.ConfigValue(value=value))
        return created

    def cli(self, work_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """The ``pulumi`` CLI itself, for commands the Automation API does not wrap."""
        return subprocess.run(
            [str(self.toolchain.binary("pulumi")), *args],
            cwd=work_dir,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@dataclass(frozen=True)
class Step:
    op: str
    type: str
    name: str


@dataclass
class StepRecorder:
    """Collects the engine's step events (``on_event``) of one operation: what it would do
    (preview) or did (up, destroy) to each resource."""

    steps: list[Step] = field(default_factory=list)

    def __call__(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None:
            return
        meta = pre.metadata
        self.steps.append(
            Step(
                op=str(meta.op.value),
                type=meta.type,
                name=meta.urn.rsplit("::", 1)[-1],
            )
        )

    def of(self, op: str) -> list[Step]:
        return [step for step in self.steps if step.op == op]

    def changed(self) -> list[Step]:
        return [step for step in self.steps if step.op not in {"same", "read"}]


def state_at_rest(engine: Engine, project: str, stack: str) -> str:
    """The checkpoint file of the ``file://`` backend, as it is stored: what anyone who can
    read the state bucket sees."""
    return (engine.backend / ".pulumi" / "stacks" / project / f"{stack}.json").read_text()
