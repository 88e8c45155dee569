"""The server loads the Kubernetes client (kubernetes_asyncio and aiohttp: ~80 MB, 2 s) only
for its first rollout: a server that deploys nothing, the CLI and the agent never pay for it."""

import subprocess
import sys

HEAVY = ("kubernetes_asyncio", "aiohttp")


def test_the_server_app_and_its_deployment_runner_load_no_kubernetes_client() -> None:
    script = (
        "import sys\n"
        "from solvyd.server.app import create_app\n"
        "from solvyd.server.settings import ServerSettings\n"
        "import solvyd.server.services.deployments.runner\n"
        "import solvyd.cli.main, solvyd.agent.worker\n"
        "create_app(ServerSettings(data_dir='/nonexistent'))\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    loaded = {name.split(".")[0] for name in out.split()}
    assert not loaded.intersection(HEAVY)
