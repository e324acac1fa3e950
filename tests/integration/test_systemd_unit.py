"""The shipped systemd unit's command starts (issue 14.11): the agent finds its token and
TLS files in ``$CREDENTIALS_DIRECTORY`` (``LoadCredential=``), as the dynamic user
that cannot read /etc/watchfloor. Run as the unit runs it: unprivileged (as root, the
capabilities that bypass file permissions are dropped, as ``DynamicUser=`` has none)."""

from __future__ import annotations

import os
import shlex
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import trustme

from tests.integration.agents import free_port

UNIT = Path(__file__).parents[2] / "docs" / "watchfloor-agent.service"


def _unit_command() -> list[str]:
    lines = UNIT.read_text().replace("\\\n", " ").splitlines()
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:2] == ["/usr/local/bin/watchfloor", "agent"]
    credentials = {line.split("=", 1)[1].split(":", 1)[0] for line in lines
                   if line.startswith("LoadCredential=")}  # fmt: skip
    assert credentials == {"token", "agent.pem", "agent.key"}
    assert "--token-file" not in argv  # /etc/watchfloor/token is root-only: never named
    return argv[2:]


async def test_the_units_command_starts_unprivileged_with_its_credentials(
    tmp_path: Path,
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    token = "unit-test-token-0123456789abcdef"
    (credentials / "token").write_text(token + "\n")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(credentials / "agent.pem")
    issued.private_key_pem.write_to_path(credentials / "agent.key")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    for path in credentials.iterdir():
        path.chmod(0o400)  # as systemd leaves them: read-only to the service user
    args = _unit_command()
    port = free_port()
    args[args.index("--listen") + 1] = f"127.0.0.1:{port}"  # the unit's 0.0.0.0:9477, here
    drop = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [*drop, sys.executable, "-m", "console.cli", "agent", *args, "--sim", "node01"],
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline().decode()
        assert line.startswith("node01 https://"), process.stderr.read().decode()[-2000:]
        url = f"https://localhost:{port}"
        context = ssl.create_default_context(cafile=str(ca_file))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/v1/snapshot", ssl=context) as refused:
                assert refused.status == 401  # the credential's token is required
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{url}/v1/snapshot", ssl=context, headers=headers) as fine:
                assert fine.status == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
