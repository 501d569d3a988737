"""sandboxBackend: auto takes the direct runsc backend where the host allows it, Docker
otherwise, and says which and why; an explicit choice is kept."""

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from runakode.config import Settings
from runakode.errors import SandboxError
from runakode.sandboxes import create_backend
from runakode.sandboxes.cgroups import CgroupTree, CgroupV1, CgroupV2
from runakode.sandboxes.choice import Host, choose_backend
from runakode.sandboxes.docker_api import DockerClient
from runakode.sandboxes.docker_impl import DockerBackend
from runakode.sandboxes.runsc_impl import RunscBackend
from unit.sandboxes.cgroups.fakes import FakeCgroup2, fake_cgroup1

RUNSC = "/usr/local/bin/runsc"


@pytest.fixture
def v1(tmp_path: Path) -> CgroupTree:
    return CgroupV1(fake_cgroup1(tmp_path / "v1"))


def test_auto_takes_runsc_on_a_root_host_with_runsc_and_cgroup_v1(v1: CgroupTree) -> None:
    choice = choose_backend("auto", Host(0, RUNSC, v1))
    assert choice.name == "runsc"
    assert str(choice) == (
        f"runsc (direct; runsc found at {RUNSC}, cgroup v1 memory/cpu/pids controllers, "
        "running as root)"
    )


def test_auto_takes_runsc_on_cgroup_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCgroup2(tmp_path / "v2").install(monkeypatch)
    choice = choose_backend("auto", Host(0, RUNSC, CgroupV2(fake.root)))
    assert choice.name == "runsc"
    assert "cgroup v2 memory/cpu/pids controllers" in choice.reason


def test_auto_takes_docker_without_root(v1: CgroupTree) -> None:
    choice = choose_backend("auto", Host(1000, RUNSC, v1))
    assert str(choice) == "docker (runsc direct needs root (running as uid 1000))"


def test_auto_takes_docker_without_the_runsc_binary(v1: CgroupTree) -> None:
    choice = choose_backend("auto", Host(0, None, v1))
    assert choice.name == "docker"
    assert "the runsc binary (not on PATH" in choice.reason


def test_auto_takes_docker_when_a_cgroup_controller_is_missing(tmp_path: Path) -> None:
    tree = CgroupV1(fake_cgroup1(tmp_path / "v1", ("memory", "cpu")))
    choice = choose_backend("auto", Host(0, RUNSC, tree))
    assert choice.name == "docker"
    assert choice.reason == (
        "runsc direct needs usable cgroups "
        f"(cgroup v1 controllers missing under {tmp_path / 'v1'}: pids)"
    )


def test_auto_names_every_blocker(tmp_path: Path) -> None:
    tree = CgroupV1(tmp_path / "no-cgroups")
    reason = choose_backend("auto", Host(1000, None, tree)).reason
    assert "root" in reason and "runsc binary" in reason and "memory, cpu, pids" in reason


@pytest.mark.parametrize("configured", ["docker", "runsc"])
def test_an_explicit_backend_is_kept_whatever_the_host(configured: str, tmp_path: Path) -> None:
    for host in (
        Host(0, RUNSC, CgroupV1(fake_cgroup1(tmp_path / configured))),
        Host(1000, None, CgroupV1(tmp_path)),
    ):
        choice = choose_backend(configured, host)
        assert (choice.name, choice.reason) == (configured, "set by sandboxBackend")


def test_probe_finds_runsc_on_path(
    v1: CgroupTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert Host.probe("runsc", v1).runsc is None
    binary = bin_dir / "runsc"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    host = Host.probe("runsc", v1)
    assert host.runsc == str(binary)
    assert host.uid == os.geteuid()
    assert host.cgroups is v1


def test_auto_is_the_default() -> None:
    assert Settings().sandbox_backend == "auto"


async def test_create_backend_logs_the_choice_and_hands_runsc_the_probed_tree(
    v1: CgroupTree,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="runakode.sandboxes")
    backend = create_backend(make_settings(), Host(0, RUNSC, v1))
    assert isinstance(backend, RunscBackend)
    assert backend._cgroups is v1
    assert f"sandbox backend: runsc (direct; runsc found at {RUNSC}" in caplog.text
    await backend._docker.close()


async def test_create_backend_falls_back_to_docker_and_says_why(
    v1: CgroupTree,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="runakode.sandboxes")
    backend = create_backend(make_settings(), Host(1000, RUNSC, v1))
    assert isinstance(backend, DockerBackend)
    assert "sandbox backend: docker (runsc direct needs root (running as uid 1000))" in caplog.text
    await backend.close()


async def test_an_explicit_runsc_on_a_host_that_cannot_fails_at_start(tmp_path: Path) -> None:
    docker = DockerClient(str(tmp_path / "no-docker.sock"))
    backend = RunscBackend([], docker, CgroupV1(fake_cgroup1(tmp_path / "v1", ("memory",))))
    with pytest.raises(SandboxError) as failure:
        await backend.start()
    assert "the runsc backend cannot run on this host" in failure.value.message
    assert "cgroup v1 controllers missing" in failure.value.message
    assert "cpu, pids" in failure.value.message
    await docker.close()
