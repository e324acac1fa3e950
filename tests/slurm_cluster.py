"""A real Slurm cluster on this machine for the tests: munged, slurmctld, slurmd.

Debian's ``slurm-wlm`` 22.05 and ``munge`` (tests/system-deps.sh installs them).
Everything lives in one private directory: its own munge key and socket (so two
test runs at once never share a munged), its own ``slurm.conf`` on free ports,
state, spool, pid and log files, and GPU GRES defined by ``File=`` entries that
point at empty files (a GRES defined by count alone is refused without real
devices). Every daemon is started by pid and stopped by that pid.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.waiting import wait_for

MUNGED = shutil.which("munged", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
SLURMCTLD = shutil.which("slurmctld", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
SLURMD = shutil.which("slurmd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
GPUS_PER_NODE = 8


def missing() -> str | None:
    """Why a cluster cannot start here, or ``None``."""
    if not (MUNGED and SLURMCTLD and SLURMD and shutil.which("sbatch")):
        return "Debian packages 'slurm-wlm' and 'munge' not installed (tests/system-deps.sh)"
    if os.geteuid() != 0:
        return "a Slurm cluster needs root (munged runs as the munge user, slurmd as root)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (the munge package creates it)"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SlurmCluster:
    """A running cluster: its directory, config, node names and daemons."""

    root: Path
    nodes: list[str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment Slurm's commands need to find this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Slurm command against this cluster (``sbatch``, ``scontrol``)."""
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=30, check=check
        )

    def submit(self, *options: str, command: str = "sleep 600") -> str:
        """``sbatch OPTIONS --wrap COMMAND``; the job id."""
        output = f"--output={self.root}/job-%j.out"  # not slurm-N.out in the test's folder
        out = self.run("sbatch", "--parsable", output, *options, "--wrap", command).stdout
        return out.strip().split(";")[0]

    def job_state(self, job_id: str) -> str:
        """``RUNNING``, ``PENDING`` … from squeue ('' once gone)."""
        out = self.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False).stdout
        return out.strip().splitlines()[0] if out.strip() else ""

    def node_state(self, node: str) -> tuple[str, str]:
        """(state, reason) of one node as ``sinfo -N`` lists it."""
        # Not ``sinfo -n NODE``: after a cancelled job 22.05 says "mixed" there for
        # a node that the full listing (and the node itself) calls idle.
        out = self.run("sinfo", "-h", "-N", "-o", "%N|%T|%E").stdout
        for line in out.splitlines():
            name, _, rest = line.partition("|")
            if name == node:
                state, _, reason = rest.partition("|")
                # "idle*": a ping to slurmd went unanswered (a loaded test machine);
                # the state itself is what the tests look at.
                return state.rstrip("*"), "" if reason == "none" else reason
        return "", ""

    def cancel_all(self) -> None:
        """Cancel every job and bring every node back to idle (between tests)."""
        self.run("scancel", "--full", "-u", "root", check=False)
        wait_for(lambda: not self.live_jobs(), 60, "every job ended")
        for node in self.nodes:
            if self.node_state(node)[0] != "idle":
                self.run("scontrol", "update", f"NodeName={node}", "State=RESUME", check=False)
        try:
            wait_for(lambda: all(self.node_state(n)[0] == "idle" for n in self.nodes), 60, "idle")
        except TimeoutError:
            seen = self.run("sinfo", "-N", "-o", "%N %T %E", check=False).stdout
            message = f"nodes not idle within 60s:\n{seen}\n{self.log('slurmctld')}"
            raise TimeoutError(message) from None

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Cancel every job, stop every daemon by the pid this fixture started, clean up.

        slurmd leaves running jobs behind when it stops (their slurmstepd lives on),
        so the jobs are cancelled first, and anything still running from this
        cluster's spool afterwards is ended by pid.
        """
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.run("scancel", "--full", "-u", "root", check=False)
            with contextlib.suppress(TimeoutError):  # the sweep below ends what is left
                wait_for(lambda: not self.live_jobs(), 30, "every job ended")
        for name in reversed(list(self.processes)):
            stop_process(self.processes.pop(name))
        end_leftovers(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def live_jobs(self) -> list[str]:
        """Ids of the jobs not finished yet (pending, running, completing …)."""
        out = self.run("squeue", "-h", "-o", "%i %T", check=False).stdout
        finished = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "PREEMPTED", "NODE_FAIL"}
        return [
            line.split()[0]
            for line in out.splitlines()
            if line.split() and line.split()[-1] not in finished
        ]


def end_leftovers(root: Path) -> None:
    """End job processes (and their slurmstepd) still running from ``root``'s spool."""
    import psutil

    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if str(root) not in " ".join(process.info["cmdline"] or ()):
                continue
            family = [process, *process.children(recursive=True)]
            parent = process.parent()
            if parent is not None and "slurmstepd" in parent.name():
                family.append(parent)
            for member in family:
                member.kill()
        except psutil.Error:
            continue


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)  # slurmd may outlive SIGTERM for a few seconds
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(root: Path, nodes: list[str], munge_socket: Path) -> None:
    host = socket.gethostname().split(".")[0]
    for name in ("state", "spool", "gres"):
        (root / name).mkdir()
    for index in range(GPUS_PER_NODE):
        (root / "gres" / f"nvidia{index}").touch()
    node_lines = "\n".join(
        f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={free_port()} "
        f"CPUs=2 RealMemory=2000 Gres=gpu:{GPUS_PER_NODE} State=UNKNOWN"
        for node in nodes
    )
    (root / "slurm.conf").write_text(
        f"""ClusterName=watchfloor
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}/%n
SlurmctldPidFile={root / "slurmctld.pid"}
SlurmdPidFile={root / "slurmd-%n.pid"}
SlurmctldLogFile={root / "slurmctld.log"}
SlurmdLogFile={root / "slurmd-%n.log"}
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
GresTypes=gpu
ReturnToService=2
SchedulerType=sched/backfill
MinJobAge=300
# slurmd listens on 127.0.0.1 only (22.05's slurmctld still binds every address).
CommunicationParameters=NoInAddrAny
{node_lines}
PartitionName=gpu Nodes={",".join(nodes)} Default=YES State=UP OverSubscribe=FORCE:8
"""
    )
    (root / "gres.conf").write_text(
        f"Name=gpu File={root / 'gres'}/nvidia[0-{GPUS_PER_NODE - 1}]\n"
    )


def start_cluster(nodes: list[str]) -> SlurmCluster:
    """Start munged, slurmctld and one slurmd per node name; wait until all are idle."""
    # Not under pytest's tmp_path: that is private to root (0700) and munged,
    # running as the munge user, must reach its socket and key.
    root = Path(tempfile.mkdtemp(prefix="wf-slurm-"))
    root.chmod(0o755)
    cluster = SlurmCluster(root, nodes)
    try:
        munge = pwd.getpwnam("munge")
        munge_dir = root / "munge"
        munge_dir.mkdir()
        munge_dir.chmod(0o755)  # munged: "execute permissions for all required"
        key = munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (munge_dir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        munge_socket = munge_dir / "munge.socket"
        write_config(root, nodes, munge_socket)
        cluster.processes["munged"] = subprocess.Popen(
            [MUNGED or "munged", "--foreground", f"--socket={munge_socket}", f"--key-file={key}",
             f"--pid-file={munge_dir / 'munged.pid'}", f"--seed-file={munge_dir / 'seed'}",
             f"--log-file={munge_dir / 'munged.log'}"],
            user=munge.pw_uid, group=munge.pw_gid, extra_groups=[],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(munge_socket.exists, 20, f"munged socket {munge_socket}")
        env = cluster.env
        cluster.processes["slurmctld"] = subprocess.Popen(
            [SLURMCTLD or "slurmctld", "-D", "-i", "-f", str(cluster.conf)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: cluster.run("sinfo", check=False).returncode == 0, 60, "slurmctld")
        for node in nodes:
            cluster.processes[f"slurmd-{node}"] = subprocess.Popen(
                [SLURMD or "slurmd", "-D", "-f", str(cluster.conf), "-N", node],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        wait_for(
            lambda: all(cluster.node_state(node)[0] == "idle" for node in nodes),
            90,
            "every node idle",
        )
    except BaseException as exc:
        logs = "\n".join(
            f"--- {n}\n{cluster.log(n)}"
            for n in ("slurmctld", *map(lambda n: f"slurmd-{n}", nodes))
        )
        cluster.stop()
        raise RuntimeError(f"Slurm cluster did not start: {exc}\n{logs}") from None
    return cluster
