import json
from pathlib import Path
from typing import Any

import pytest

from runakode.sandboxes import seccomp
from runakode.sandboxes.base import SandboxSpec
from runakode.sandboxes.docker_impl import container_config
from runakode.sandboxes.runsc_impl import oci_config

EPERM = 1
REFUSED = ["unshare", "setns", "mount", "umount2", "pivot_root"]
# From linux/sched.h, written out here so that a typo in the module cannot hide.
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
SIGCHLD = 17
# What glibc's pthread_create passes to clone(2).
THREAD_FLAGS = 0x003D0F00
# What glibc's fork passes: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
FORK_FLAGS = 0x01200000 | SIGCHLD
SPEC = SandboxSpec(image="python-runner", memory_bytes=256 << 20, cpus=0.5)


def docker_form() -> dict[str, Any]:
    option = seccomp.docker_security_opt()
    assert option.startswith("seccomp=")
    profile: dict[str, Any] = json.loads(option.removeprefix("seccomp="))
    return profile


FORMS = {"docker": docker_form, "oci": seccomp.oci_seccomp}


@pytest.fixture(params=list(FORMS))
def profile(request: pytest.FixtureRequest) -> dict[str, Any]:
    return FORMS[request.param]()


def arg_matches(arg: dict[str, Any], args: tuple[int, ...]) -> bool:
    assert arg["op"] == "SCMP_CMP_MASKED_EQ", arg
    return bool(args[arg["index"]] & arg["value"] == arg["valueTwo"])


def verdict(profile: dict[str, Any], name: str, *args: int) -> tuple[str, int | None]:
    """The action (and errno) the profile gives one call, as a seccomp runtime reads it."""
    for rule in profile["syscalls"]:
        if name in rule["names"] and all(arg_matches(a, args) for a in rule["args"]):
            return rule["action"], rule.get("errnoRet")
    return profile["defaultAction"], None


def test_everything_else_is_allowed(profile: dict[str, Any]) -> None:
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    assert "defaultErrnoRet" not in profile
    assert "SCMP_ARCH_X86_64" in profile["architectures"]
    for name in ("read", "execve", "fork", "vfork", "ptrace", "kill"):
        assert verdict(profile, name, 0) == ("SCMP_ACT_ALLOW", None), name


@pytest.mark.parametrize("name", REFUSED)
def test_namespace_and_mount_calls_are_refused_with_eperm(
    profile: dict[str, Any], name: str
) -> None:
    # Whatever the arguments, including unshare(0) and setns with no namespace at all.
    for args in ((0, 0), (NAMESPACE_FLAGS["CLONE_NEWUSER"], 0), (0xFFFFFFFF, 0)):
        assert verdict(profile, name, *args) == ("SCMP_ACT_ERRNO", EPERM), (name, args)


@pytest.mark.parametrize("flag", list(NAMESPACE_FLAGS))
def test_clone_with_a_namespace_flag_is_refused(profile: dict[str, Any], flag: str) -> None:
    rules = [
        rule
        for rule in profile["syscalls"]
        if rule["names"] == ["clone"]
        and rule["args"]
        == [
            {
                "index": 0,
                "value": NAMESPACE_FLAGS[flag],
                "valueTwo": NAMESPACE_FLAGS[flag],
                "op": "SCMP_CMP_MASKED_EQ",
            }
        ]
    ]
    assert [(rule["action"], rule["errnoRet"]) for rule in rules] == [("SCMP_ACT_ERRNO", EPERM)]
    bit = NAMESPACE_FLAGS[flag]
    for flags in (bit, bit | SIGCHLD, bit | FORK_FLAGS, bit | THREAD_FLAGS):
        assert verdict(profile, "clone", flags) == ("SCMP_ACT_ERRNO", EPERM), (flag, hex(flags))


def test_threads_and_processes_still_start(profile: dict[str, Any]) -> None:
    for flags in (THREAD_FLAGS, FORK_FLAGS, SIGCHLD, 0):
        assert verdict(profile, "clone", flags) == ("SCMP_ACT_ALLOW", None), hex(flags)


def test_clone_rules_cover_exactly_the_namespace_flags(profile: dict[str, Any]) -> None:
    clone_rules = [rule for rule in profile["syscalls"] if "clone" in rule["names"]]
    assert all(rule["names"] == ["clone"] for rule in clone_rules)
    assert sorted(rule["args"][0]["value"] for rule in clone_rules) == sorted(
        NAMESPACE_FLAGS.values()
    )


def test_clone3_is_left_unfiltered(profile: dict[str, Any]) -> None:
    # Refusing clone3 breaks threads under runsc; the integration tests check it stays ENOSYS.
    assert "clone3" not in json.dumps(profile)
    assert verdict(profile, "clone3", 0, 0) == ("SCMP_ACT_ALLOW", None)


def test_only_errno_eperm_rules(profile: dict[str, Any]) -> None:
    assert {(rule["action"], rule["errnoRet"]) for rule in profile["syscalls"]} == {
        ("SCMP_ACT_ERRNO", EPERM)
    }
    named = {name for rule in profile["syscalls"] for name in rule["names"]}
    assert named == {*REFUSED, "clone"}


def test_both_forms_are_the_same_profile() -> None:
    assert docker_form() == seccomp.oci_seccomp()


def test_docker_sandbox_carries_the_profile() -> None:
    options = container_config(SPEC, {"runakode.sandbox": "1"})["HostConfig"]["SecurityOpt"]
    assert "no-new-privileges" in options
    # Exactly one profile: with none, Docker would hand runsc its default profile instead.
    assert [option for option in options if option.startswith("seccomp")] == [
        seccomp.docker_security_opt()
    ]


def test_runsc_sandbox_carries_the_profile() -> None:
    config = oci_config(SPEC, Path("/var/lib/runakode/rootfs/x"), [], "runakode-1-2-abc")
    assert config["linux"]["seccomp"] == seccomp.oci_seccomp()
