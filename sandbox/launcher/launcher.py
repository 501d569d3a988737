#!/usr/bin/env python3
# Runs inside the sandbox as its first process. It waits on stdin for one job (a length-prefixed
# JSON header), writes the job's files into the working directory, compiles and runs the program,
# and streams framed output back on stdout. It serves exactly one job: the host destroys the
# sandbox afterwards. Only the standard library is available here.
import base64
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import time

HEADER = struct.Struct(">I")
FRAME = struct.Struct(">cI")
# Every frame starts with the job's token, which only the host and this process know: the
# program runs as the same user and can write into our stdout through /proc/1/fd/1, but it
# cannot make a frame the host accepts.
token = b""
MAX_HEADER_BYTES = 64 << 20
CHUNK_BYTES = 64 << 10
READY = b"Y"
# How long the pipes may stay open after the main process exited (a background child holding them).
DRAIN_AFTER_EXIT_S = 0.05

RUN_STDOUT, RUN_STDERR = b"1", b"2"
COMPILE_STDOUT, COMPILE_STDERR = b"3", b"4"
COMPILE_DONE, RUN_DONE, LAUNCHER_ERROR, ACCEPTED = b"C", b"R", b"X", b"A"


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(kind: bytes, payload: bytes) -> None:
    write_all(1, token + FRAME.pack(kind, len(payload)) + payload)


def read_exact(size: int) -> bytes:
    parts = []
    while size:
        chunk = os.read(0, min(size, 1 << 20))
        if not chunk:
            raise EOFError("stdin closed before the job arrived")
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def safe_name(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or "\0" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"refusing file name {name!r}")
    return name


def write_files(files: list[dict[str, str]]) -> None:
    for entry in files:
        name = safe_name(entry["name"])
        directory = os.path.dirname(name)
        if directory:
            os.makedirs(directory, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, 0o755 if entry.get("executable") else 0o644)
        try:
            write_all(fd, base64.b64decode(entry["content"]))
        finally:
            os.close(fd)


class Phase:
    """One process (compile or run) with its pipes pumped until it ends or a limit hits."""

    def __init__(self, spec: dict, stdin: bytes, kinds: tuple[bytes, bytes], limit: int) -> None:
        self.argv = spec["argv"]
        self.timeout_s = float(spec["timeout_s"])
        self.kill_on_flood = bool(spec.get("kill_on_output_limit", True))
        # One pipe for both streams keeps their order, as a terminal would show it.
        self.merge_output = bool(spec.get("merge_output", False))
        self.stdin = memoryview(stdin)
        self.kinds = kinds
        self.limit = limit
        self.sent = [0, 0]
        self.timed_out = False
        self.output_limit = False
        self.truncated = False

    def run(self) -> dict:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if self.merge_output else subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            message = f"cannot start {self.argv[0]}: {exc.strerror}\n".encode()
            send(self.kinds[1], message)
            return self.report(127, None, started)
        self.pump(proc, started + self.timeout_s)
        returncode = proc.wait()
        if returncode < 0:
            return self.report(128 - returncode, -returncode, started)
        return self.report(returncode, None, started)

    def report(self, exit_code: int, signal_number: int | None, started: float) -> dict:
        return {
            "exit_code": exit_code,
            "signal": signal_number,
            "time_ms": int((time.monotonic() - started) * 1000),
            "timed_out": self.timed_out,
            "output_limit": self.output_limit,
            "truncated": self.truncated,
        }

    def pump(self, proc: subprocess.Popen, deadline: float) -> None:
        selector = selectors.DefaultSelector()
        assert proc.stdin and proc.stdout
        os.set_blocking(proc.stdin.fileno(), False)
        if self.stdin:
            selector.register(proc.stdin, selectors.EVENT_WRITE, -1)
        else:
            proc.stdin.close()
        selector.register(proc.stdout, selectors.EVENT_READ, 0)
        if proc.stderr is not None:
            selector.register(proc.stderr, selectors.EVENT_READ, 1)
        exited_at = None
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > DRAIN_AFTER_EXIT_S:
                break
            if now >= deadline:
                self.timed_out = True
                break
            wait_s = min(deadline - now, DRAIN_AFTER_EXIT_S)
            for key, _ in selector.select(wait_s):
                if key.data == -1:
                    self.feed_stdin(selector, proc)
                elif not self.forward(selector, key.fileobj, key.data):
                    self.output_limit = self.truncated = True
            if self.output_limit:
                break
        kill_group(proc.pid)
        selector.close()

    def feed_stdin(self, selector: selectors.BaseSelector, proc: subprocess.Popen) -> None:
        assert proc.stdin
        try:
            written = os.write(proc.stdin.fileno(), self.stdin[:CHUNK_BYTES])
        except BlockingIOError:
            return
        except BrokenPipeError:
            written = len(self.stdin)
        self.stdin = self.stdin[written:]
        if not self.stdin:
            selector.unregister(proc.stdin)
            proc.stdin.close()

    def forward(self, selector: selectors.BaseSelector, pipe, index: int) -> bool:
        chunk = os.read(pipe.fileno(), CHUNK_BYTES)
        if not chunk:
            selector.unregister(pipe)
            return True
        room = self.limit - self.sent[index]
        if room > 0:
            send(self.kinds[index], chunk[:room])
            self.sent[index] += min(room, len(chunk))
        if len(chunk) <= room:
            return True
        self.truncated = True
        return not self.kill_on_flood


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_everything_else() -> None:
    # As the sandbox's first process this reaches every process the program left behind,
    # including ones that left the process group with setsid. Anywhere but PID 1 of a sandbox,
    # kill(-1) would hit unrelated processes, so it is refused there.
    if os.getpid() != 1:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> int:
    global token
    if "--announce" in sys.argv[1:]:
        # Booted and waiting: lets the host keep this sandbox as ready (sent before any job,
        # so before any program could exist to fake it).
        write_all(1, READY)
    try:
        (size,) = HEADER.unpack(read_exact(HEADER.size))
        if size > MAX_HEADER_BYTES:
            raise ValueError("job header too large")
        job = json.loads(read_exact(size))
        token = bytes.fromhex(job["token"])
        write_files(job["files"])
    except (EOFError, ValueError, KeyError, OSError) as exc:
        send(LAUNCHER_ERROR, str(exc).encode())
        return 3
    # From here on, whatever happens to the sandbox is the program's doing, not a dead sandbox.
    send(ACCEPTED, b"")
    limit = int(job["output_max_bytes"])
    if job.get("compile"):
        compile_limit = int(job["compile"].get("output_max_bytes", limit))
        report = Phase(job["compile"], b"", (COMPILE_STDOUT, COMPILE_STDERR), compile_limit).run()
        kill_everything_else()
        send(COMPILE_DONE, json.dumps(report).encode())
        if report["exit_code"] != 0 or report["timed_out"]:
            return 0
    stdin = base64.b64decode(job.get("stdin", ""))
    report = Phase(job["run"], stdin, (RUN_STDOUT, RUN_STDERR), limit).run()
    kill_everything_else()
    send(RUN_DONE, json.dumps(report).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
