from runakode.sandboxes.base import (
    CompileStep,
    PhaseResult,
    RunLimits,
    Sandbox,
    SandboxFile,
    SandboxJob,
    SandboxResult,
    SandboxSpec,
)

__all__ = [
    "CompileStep",
    "PhaseResult",
    "RunLimits",
    "Sandbox",
    "SandboxFile",
    "SandboxJob",
    "SandboxResult",
    "SandboxSpec",
]
