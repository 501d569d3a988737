"""The runsc backend's cgroups on cgroup v2, against a faked hierarchy (this host is v1; v1 is
exercised for real by the integration tests of the runsc backend)."""

import asyncio
from pathlib import Path

import pytest

from runakode.errors import SandboxError
from runakode.sandboxes import cgroups
from runakode.sandboxes.cgroups import CgroupV1, CgroupV2
from unit.sandboxes.cgroups.fakes import HOST_CONTROLLERS, FakeCgroup2, fake_cgroup1

NAME = "runakode-1-2-abc"
MEMORY = 256 << 20


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCgroup2:
    return FakeCgroup2(tmp_path / "cgroup").install(monkeypatch)


def test_the_unified_hierarchy_at_the_root_is_v2(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    assert isinstance(tree, CgroupV2)
    assert tree.describe() == "cgroup v2 memory/cpu/pids controllers"


def test_a_v1_host_with_a_unified_mount_below_the_root_is_v1(tmp_path: Path) -> None:
    tree = cgroups.detect(fake_cgroup1(tmp_path / "cgroup"))
    assert isinstance(tree, CgroupV1)
    assert tree.problem() is None


def test_create_enables_the_controllers_and_sets_the_limits(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 0.5, 4096)

    for cgroup in ("", "runakode/"):
        enabled = fake.read(f"{cgroup}cgroup.subtree_control").split()
        assert {"memory", "cpu", "pids"} <= set(enabled)
    sandbox = f"runakode/{NAME}/"
    assert fake.read(sandbox + "memory.max") == str(MEMORY)
    assert fake.read(sandbox + "memory.swap.max") == "0"
    assert fake.read(sandbox + "cpu.max") == "50000 100000"
    assert fake.read(sandbox + "pids.max") == "4096"
    # Booted ahead of its job: the lowest weight, below every other cgroup's default of 100.
    assert fake.read(sandbox + "cpu.weight") == "1"
    assert tree.leftovers() == [NAME]


def test_controllers_already_enabled_are_not_written_again(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    fake.writes.clear()
    tree.create("runakode-1-2-def", MEMORY, 1.0, 4096)
    assert [path for path, _ in fake.writes if path.endswith("subtree_control")] == []


def test_the_job_gets_the_default_cpu_weight(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    tree.give_job_priority(NAME)
    assert fake.read(f"runakode/{NAME}/cpu.weight") == "100"


def test_without_swap_accounting_there_is_no_swap_limit_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCgroup2(tmp_path / "cgroup", swap=False).install(monkeypatch)
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    assert fake.read(f"runakode/{NAME}/memory.max") == str(MEMORY)
    assert not (fake.root / "runakode" / NAME / "memory.swap.max").exists()


def test_oom_kills_are_read_from_memory_events(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    assert tree.oom_killed(NAME) is False
    fake.set_oom_kills(f"runakode/{NAME}", 2)
    assert tree.oom_killed(NAME) is True
    assert tree.oom_killed("runakode-1-2-gone") is False


async def test_remove_waits_for_the_last_process_to_leave(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    fake.set_processes(f"runakode/{NAME}", "4242\n")

    async def process_exits() -> None:
        await asyncio.sleep(0.1)
        fake.set_processes(f"runakode/{NAME}", "")

    exiting = asyncio.create_task(process_exits())
    await tree.remove(NAME, wait_s=2.0)
    await exiting
    assert not (fake.root / "runakode" / NAME).exists()
    assert tree.leftovers() == []


async def test_remove_gives_up_on_a_cgroup_that_stays_busy(fake: FakeCgroup2) -> None:
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    fake.set_processes(f"runakode/{NAME}", "4242\n")
    await tree.remove(NAME, wait_s=0.1)
    assert tree.leftovers() == [NAME]


def test_a_host_with_the_controllers_has_no_problem(fake: FakeCgroup2) -> None:
    assert cgroups.detect(fake.root).problem() is None


def test_missing_controllers_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCgroup2(tmp_path / "cgroup", ("cpuset", "cpu", "io")).install(monkeypatch)
    tree = cgroups.detect(fake.root)
    assert tree.problem() == f"cgroup v2 controllers missing under {fake.root}: memory, pids"
    with pytest.raises(SandboxError, match="cgroup"):
        tree.create(NAME, MEMORY, 1.0, 4096)
    assert not (fake.root / "runakode" / NAME).exists()


def test_a_namespace_root_with_processes_cannot_enable_controllers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCgroup2(tmp_path / "cgroup", namespace_root=True).install(monkeypatch)
    tree = cgroups.detect(fake.root)
    problem = tree.problem()
    assert problem is not None and "holds processes" in problem
    with pytest.raises(SandboxError):
        tree.create(NAME, MEMORY, 1.0, 4096)
    assert tree.leftovers() == []


def test_a_namespace_root_with_processes_needs_every_controller_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCgroup2(tmp_path / "cgroup", namespace_root=True, processes="").install(monkeypatch)
    tree = cgroups.detect(fake.root)
    tree.create(NAME, MEMORY, 1.0, 4096)
    fake.set_processes("", "1\n")
    # runsc enables every controller the root has, not only the three limits need.
    problem = tree.problem()
    assert problem is not None and "cpuset, hugetlb, io, misc, rdma" in problem
    fake.set_processes("", "")
    fake.control(fake.root, " ".join(f"+{name}" for name in HOST_CONTROLLERS))
    fake.set_processes("", "1\n")
    assert tree.problem() is None
