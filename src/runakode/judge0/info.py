import asyncio
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.judge0.serialization import format_timestamp
from runakode.submissions.record import Judge0Status
from runakode.submissions.store import SubmissionStore

VERSION = "1.13.1"
STATISTICS_CACHE_S = 600.0
DAY_S = 86400
LICENSE_FILE = Path(__file__).resolve().parents[3] / "LICENSE"
# A running instance with no heartbeat for this long no longer counts as a worker.
WORKER_SEEN_S = 30.0


def about(base_url: str) -> dict[str, str]:
    # The official SDK maps language aliases by this version: it must be one it knows.
    return {
        "version": VERSION,
        "homepage": base_url,
        "source_code": f"{base_url}/docs",
        "maintainer": "runakode",
    }


def license_text() -> str:
    try:
        return LICENSE_FILE.read_text(encoding="utf-8")
    except OSError:
        return "runakode: no license file is installed with this service.\n"


async def isolate_text() -> str:
    """What runs the programs here: gVisor's runsc, with its version when it is on this host."""
    runsc = shutil.which("runsc")
    if runsc is None:
        return "runakode sandboxes: gVisor (runsc) on the worker hosts\n"
    process = await asyncio.create_subprocess_exec(
        runsc,
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    output, _ = await process.communicate()
    first = output.decode(errors="replace").splitlines()[:1]
    return f"runakode sandboxes: gVisor {first[0] if first else 'runsc'}\n"


def system_info() -> dict[str, str]:
    """lscpu's keys and `free -h`'s rows, as Judge0 shows them."""
    info: dict[str, str] = {}
    lscpu = shutil.which("lscpu")
    if lscpu is not None:
        output = subprocess.run(
            [lscpu], capture_output=True, text=True, timeout=5, check=False, env={"LC_ALL": "C"}
        ).stdout
        for line in output.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                info[key.strip()] = value.strip()
    else:
        info["CPU(s)"] = str(os.cpu_count() or 0)
    meminfo = _meminfo_kb()
    info["Mem"] = _human_kb(meminfo.get("MemTotal", 0))
    info["Swap"] = _human_kb(meminfo.get("SwapTotal", 0))
    return info


def _meminfo_kb() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values


def _human_kb(kb: int) -> str:
    size = float(kb) * 1024
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"


class Statistics:
    """/statistics, computed at most every ten minutes as Judge0 does (or on request)."""

    def __init__(self, store: SubmissionStore) -> None:
        self._store = store
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0

    async def get(self, *, invalidate: bool) -> dict[str, Any]:
        now = time.time()
        if invalidate or self._cached is None or now - self._cached_at >= STATISTICS_CACHE_S:
            self._cached, self._cached_at = await self._compute(now), now
        return self._cached

    async def _compute(self, now: float) -> dict[str, Any]:
        today = int(now // DAY_S)
        per_day = await self._store.counts_by("day", since=(today - 30) * DAY_S)
        by_language = await self._store.counts_by("language_id")
        by_status = await self._store.counts_by("status_id")
        size = await self._store.size_bytes()
        days = {
            datetime.fromtimestamp(day * DAY_S, UTC).date().isoformat(): per_day.get(day, 0)
            for day in range(today - 1, today - 31, -1)
        }
        languages = [
            {
                "language": {
                    "id": language_id,
                    "name": entry.name if (entry := JUDGE0_LANGUAGES.get(language_id)) else None,
                },
                "count": count,
            }
            for language_id, count in sorted(by_language.items(), key=lambda kv: -kv[1])
        ]
        statuses = [
            {
                "status": {"id": status_id, "name": Judge0Status(status_id).description},
                "count": count,
            }
            for status_id, count in sorted(by_status.items(), key=lambda kv: -kv[1])
        ]
        return {
            "created_at": format_timestamp(now),
            "cached_until": format_timestamp(now + STATISTICS_CACHE_S),
            "submissions": {
                "total": sum(by_status.values()),
                "today": per_day.get(today, 0),
                "last_30_days": days,
            },
            "languages": languages,
            "statuses": statuses,
            "database": {
                "size_pretty": _human_kb((size or 0) // 1024) if size is not None else None,
                "size_in_bytes": size,
            },
        }


async def workers(store: SubmissionStore, queue: str) -> list[dict[str, Any]]:
    """Judge0's /workers from the instances that showed a sign of life lately."""
    seen = await store.instances(time.time() - WORKER_SEEN_S)
    serving = [instance for instance in seen if instance.slots > 0]
    available = sum(instance.slots for instance in serving)
    working = min(available, sum(instance.in_flight for instance in serving))
    failed = (await store.counts_by("status_id")).get(Judge0Status.INTERNAL_ERROR.value, 0)
    return [
        {
            "queue": queue,
            "size": await store.count_waiting(),
            "available": available,
            "idle": available - working,
            "working": working,
            "paused": 0,
            "failed": failed,
        }
    ]
