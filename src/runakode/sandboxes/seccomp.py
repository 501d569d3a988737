import json
from typing import Any

# Without these a program could make user, mount and network namespaces of its own and, as root
# inside them, reach parts of gVisor's kernel that are otherwise only open to root.
REFUSED_SYSCALLS = ("unshare", "setns", "mount", "umount2", "pivot_root")
# Every thread and child process starts with clone(2): it is refused only with one of these.
# CLONE_NEWTIME is not among them: clone(2) reads that bit as part of the exit signal (only
# clone3 and unshare take it), and unshare is refused whatever its flags.
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
# clone3 is left out on purpose. Its flags sit in memory, out of a filter's reach, so it could
# only be refused whole, and glibc falls back to clone(2) only when clone3 fails with ENOSYS:
# runsc 2022-12-19 ignores errnoRet and answers every errno rule with EPERM, so refusing clone3
# breaks thread creation. That runsc does not implement clone3 (ENOSYS), so every new task still
# meets the clone rules; an integration test fails once clone3 answers anything else.
# Explicit for runtimes that read errnoRet; runsc 2022-12-19 answers EPERM whatever it says.
EPERM = 1
# runsc filters only the native architecture; the compat one is for a runtime that uses the host
# kernel's filter, where 32-bit calls would otherwise get past the rules.
ARCHITECTURES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")
# Matches when (argument & value) == valueTwo.
MASKED_EQ = "SCMP_CMP_MASKED_EQ"


def _refusal(names: list[str], args: list[dict[str, Any]]) -> dict[str, Any]:
    return {"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM, "args": args}


def oci_seccomp() -> dict[str, Any]:
    """The profile as the OCI runtime spec's linux.seccomp."""
    # One rule per flag: runtimes do not all read several conditions on one argument alike.
    clone_rules = [
        _refusal(["clone"], [{"index": 0, "value": flag, "valueTwo": flag, "op": MASKED_EQ}])
        for flag in CLONE_NAMESPACE_FLAGS.values()
    ]
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": list(ARCHITECTURES),
        "syscalls": [_refusal(list(REFUSED_SYSCALLS), []), *clone_rules],
    }


def docker_security_opt() -> str:
    """The profile as a HostConfig.SecurityOpt entry; it replaces Docker's default profile."""
    # Docker's profile format is a superset of the OCI one: the same document serves both.
    return "seccomp=" + json.dumps(oci_seccomp(), separators=(",", ":"))
