"""Piston v1 (≤ 2.x, `api/src/index.js` before c5f3305), as emkc.org served it under
/api/v1/piston: GET versions, POST execute {language, source, stdin?, args?}."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runakode.errors import BadRequest
from runakode.models import Job
from runakode.piston.results import render_execute
from runakode.piston.runtimes import PistonRuntime

# v1's names and aliases (config/languages.json) for our languages.
V1_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "python": ("python3", ("py", "py3", "python", "python3")),
    "go": ("go", ("go", "golang")),
    "c": ("c", ("c",)),
    "cpp": ("cpp", ("c++", "cpp", "cc", "cxx")),
    "javascript": ("node", ("javascript", "js", "node", "node.js")),
    "rust": ("rust", ("rs", "rust")),
    "java": ("java", ("java",)),
    "ruby": ("ruby", ("rb", "ruby")),
    "bash": ("bash", ("bash", "sh")),
    "php": ("php", ("php", "php3", "php4", "php5")),
}
# v1 cut each stream at this many characters.
OUTPUT_LIMIT = 65535


@dataclass(frozen=True)
class LegacyJob:
    runtime: PistonRuntime
    name: str
    job: Job


def versions(runtimes: Sequence[PistonRuntime]) -> list[dict[str, Any]]:
    """GET /api/v1/piston/versions."""
    listed = []
    for runtime in runtimes:
        name, aliases = V1_NAMES[runtime.ours]
        listed.append({"name": name, "aliases": list(aliases), "version": runtime.version})
    return listed


def parse_legacy(
    body: Mapping[str, Any], runtimes: Sequence[PistonRuntime], *, request_id: str | None
) -> LegacyJob:
    """v1's checks in its order (express-validator: the first failing one is the answer)."""
    language = body.get("language")
    if language is None or language == "":
        raise BadRequest("No language supplied")
    if not isinstance(language, str):
        raise BadRequest("Supplied language is not a string")
    runtime = next(
        (rt for rt in runtimes if language.lower() in V1_NAMES[rt.ours][1]),
        None,
    )
    if runtime is None:
        raise BadRequest("Supplied language is not supported by Piston")
    source = body.get("source")
    if source is None or source == "":
        raise BadRequest("No source supplied")
    if not isinstance(source, str):
        raise BadRequest("Supplied source is not a string")
    args = body.get("args")
    if args is not None and not isinstance(args, list):
        raise BadRequest("Supplied args is not an array")
    stdin = body.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise BadRequest("Supplied stdin is not a string")
    for text in (source, stdin or "", *(str(arg) for arg in args or [])):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("Supplied text must be valid Unicode (no lone surrogates)") from None
    job = Job(
        id=uuid.uuid4().hex,
        language=runtime.ours,
        source_code=source,
        stdin=stdin or "",
        # v1 joined its arguments with newlines into a file, one per line.
        args=[_js_string(arg) for arg in args or []],
        request_id=request_id,
    )
    return LegacyJob(runtime, V1_NAMES[runtime.ours][0], job)


def _js_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value).replace("\0", "")


def render_legacy(legacy: LegacyJob, events: Sequence[Any]) -> dict[str, Any]:
    """v1's answer: the compiler's and the program's output together, each stream trimmed and
    cut as v1 did; `ran` when the program ran and exited 0."""
    answer = render_execute(legacy.runtime, events)
    run = answer["run"]
    # After a failed compile, `run` is the compile stage itself.
    stages = [stage for stage in (answer.get("compile"), run) if stage is not None]
    if len(stages) == 2 and stages[0] is stages[1]:
        stages = stages[:1]

    def joined(key: str) -> str:
        return "".join(stage[key] for stage in stages).strip()[:OUTPUT_LIMIT]

    return {
        "ran": run["status"] is None and run["code"] == 0,
        "language": legacy.name,
        "version": answer["version"],
        "stdout": joined("stdout"),
        "stderr": joined("stderr"),
        "output": joined("output"),
    }
