from runakode.sandboxes.base import Sandbox, SandboxFile, SandboxJob

__all__ = ["Sandbox", "SandboxFile", "SandboxJob"]
