"""sandboxes.hardening as both backends apply it: Docker's container config and the runsc
OCI spec lock a sandbox down with the same limits."""

from pathlib import Path

from runakode.sandboxes import hardening
from runakode.sandboxes.base import SandboxSpec
from runakode.sandboxes.docker_impl import container_config
from runakode.sandboxes.runsc_impl import oci_config

SPEC = SandboxSpec(image="python-runner", memory_bytes=256 << 20, cpus=0.5)


def test_docker_sandbox_is_locked_down() -> None:
    config = container_config(SPEC, {"runakode.sandbox": "1"})
    host = config["HostConfig"]
    assert config["User"] == "10001:10001"
    assert config["NetworkDisabled"] is True and host["NetworkMode"] == "none"
    assert host["Runtime"] == "runsc"
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True
    assert host["Memory"] == host["MemorySwap"] == 256 << 20
    assert host["NanoCpus"] == 500_000_000
    assert host["Binds"] == [] and host["Mounts"] == []
    assert set(host["Tmpfs"]) == {"/work", "/tmp"}
    assert {u["Name"]: u["Hard"] for u in host["Ulimits"]} == hardening.RLIMITS
    assert host["LogConfig"] == {"Type": "none"}
    assert all(not entry.startswith("RUNAKODE") for entry in config["Env"])


def test_runsc_sandbox_has_the_same_limits() -> None:
    env = ["PATH=/usr/bin", "HOSTNAME=sandbox"]
    config = oci_config(SPEC, Path("/var/lib/runakode/rootfs/x"), env, "runakode-1-2-abc")
    process = config["process"]
    assert (process["user"]["uid"], process["user"]["gid"]) == (10001, 10001)
    assert all(caps == [] for caps in process["capabilities"].values())
    assert process["noNewPrivileges"] is True
    assert process["env"] == env
    assert {
        r["type"].removeprefix("RLIMIT_").lower(): r["hard"] for r in process["rlimits"]
    } == hardening.RLIMITS
    assert config["root"]["readonly"] is True
    mounts = {m["destination"]: m for m in config["mounts"]}
    assert set(mounts) == {"/proc", "/dev", "/work", "/tmp", "/dev/shm"}
    assert all(m["type"] in ("proc", "tmpfs") for m in mounts.values()), "no host path inside"
    assert f"size={hardening.WORK_DIR_BYTES}" in mounts["/work"]["options"]
    namespaces = {n["type"] for n in config["linux"]["namespaces"]}
    assert {"network", "pid", "mount", "ipc", "uts"} <= namespaces
    resources = config["linux"]["resources"]
    assert resources["memory"] == {"limit": 256 << 20, "swap": 256 << 20}
    assert resources["pids"]["limit"] == hardening.HOST_PIDS_LIMIT
    assert config["linux"]["cgroupsPath"] == "/runakode/runakode-1-2-abc"
