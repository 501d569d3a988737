#!/usr/bin/env python3
# Runs inside the sandbox as its first process. It waits on stdin for one job (a length-prefixed
# JSON header), writes the job's files into the working directory, compiles and runs the program,
# and streams framed output back on stdout. It serves exactly one job: the host destroys the
# sandbox afterwards. Only the standard library is available here.
#
# It starts in every sandbox, so its start is paid by every job: it imports only modules written
# in C or already loaded by the interpreter (json, base64, subprocess, selectors and signal would
# bring in re, enum, collections, threading...: measured under gVisor, ~40-60 ms of CPU more
# per boot). The few things it needs from them are written here instead.
import _json
import binascii
import os
import resource
import select
import stat
import struct
import sys
import time

# typing is not loaded at run time (it imports re, collections, functools...): what the type
# checker reads below, and the annotations naming it (quoted), cost nothing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from io import FileIO
    from types import TracebackType
    from typing import Any, Literal, NoReturn, NotRequired, TypedDict

    # The job's header, as runakode.sandboxes.launcher_protocol.encode_job writes it.
    class FileEntry(TypedDict):
        name: str
        content: str  # base64
        executable: NotRequired[bool]

    class PhaseSpec(TypedDict):
        argv: list[str]
        timeout_s: float
        merge_output: NotRequired[bool]
        kill_on_output_limit: NotRequired[bool]
        cpu_time_limit_s: NotRequired[float | None]
        cpu_kill_s: NotRequired[float | None]
        memory_limit_kb: NotRequired[int | None]
        rlimits: NotRequired[dict[str, int]]
        output_max_bytes: NotRequired[int]  # the compile phase's own bound

    class CollectSpec(TypedDict):
        patterns: list[str]
        max_bytes: int

    class JobHeader(TypedDict):
        token: str  # hex
        files: list[FileEntry]
        run: PhaseSpec
        stdin: NotRequired[str]  # base64
        interactive: NotRequired[bool]
        output_max_bytes: int
        warm: NotRequired[bool]
        compile: NotRequired[PhaseSpec]
        collect: NotRequired[CollectSpec]

    # What --prestart=JSON holds (launcher_protocol.launcher_argv).
    class PrestartSpec(TypedDict):
        argv: list[str]
        main: str
        prelude: NotRequired[str]  # base64

    # A phase's report, in a COMPILE_DONE or RUN_DONE frame.
    class Report(TypedDict):
        exit_code: int
        signal: int | None
        time_ms: int
        cpu_time_ms: int | None
        memory_kb: int | None
        time_limit: Literal["cpu", "wall"] | None
        timed_out: bool
        memory_exceeded: bool
        output_limit: bool
        truncated: bool
        prestarted: NotRequired[bool]

    # Pipes are unbuffered files on their descriptors; the selector also takes bare descriptors.
    Pipe = FileIO | int

HEADER = struct.Struct(">I")
FRAME = struct.Struct(">cI")
SIGKILL = 9
MAX_HEADER_BYTES = 64 << 20
CHUNK_BYTES = 64 << 10
READY = b"Y"
# How long the pipes may stay open after the main process exited (a background child holding them).
DRAIN_AFTER_EXIT_S = 0.05
# How soon to look again whether a program that closed its output has exited.
IDLE_WAIT_FIRST_S = 0.001
# How long to go on killing and reaping what a phase left behind.
LEFTOVER_WAIT_S = 1.0

# A phase is sampled from /proc while it runs: its memory (in a sandbox, one read of
# /proc/meminfo, 0.2 ms under gVisor), and the CPU time of its processes when it has a CPU limit
# or runs outside a sandbox (stat and statm of each: 0.3-1.8 ms for one process, about 0.5 ms
# more for each further one; measured). Most programs are short and reach their peak memory
# early, so the first 50 ms are sampled every 5 ms, then every 20 ms up to 200 ms, then every
# 50 ms: under 5% of a core at first, under 1% later, and a busy loop is caught within 50 ms of
# its kill point (its CPU time moves in 10 ms ticks anyway); a fast memory balloon meets its own
# limit before the sandbox-wide one, which ends the whole sandbox. A sample is never taken sooner
# than 20 times its own cost after the last one, so a program with many processes cannot push
# the sampling's cost past 5%.
SAMPLE_SCHEDULE = ((0.05, 0.005), (0.2, 0.02), (float("inf"), 0.05))
# Without a CPU limit, the processes' CPU time is only read for the figures of a program that
# gets killed (its helper then cannot report it): every 50 ms is enough for that.
CPU_FIGURES_EVERY_S = 0.05
SHORT_RUN_S = 0.1
SAMPLE_COST_RATIO = 20
# A forked process starts with its parent's resident memory as its peak, and keeps that peak
# through exec: a program forked by this launcher would report at least its size (~15 MB).
# So the program is forked by a tiny static helper (sandbox/images/base/spawn.c), which reports
# the program's own usage on a pipe; the helper's own rusage is never taken for the program's.
SPAWN_HELPER = os.environ.get("RUNAKODE_SPAWN", "/opt/runakode/runakode-spawn")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# Set in the program's process before it starts, soft = hard (the job says which).
RLIMITS = {
    "STACK": resource.RLIMIT_STACK,
    "NPROC": resource.RLIMIT_NPROC,
    "FSIZE": resource.RLIMIT_FSIZE,
    "AS": resource.RLIMIT_AS,
    "CPU": resource.RLIMIT_CPU,
}

RUN_STDOUT, RUN_STDERR = b"1", b"2"
COMPILE_STDOUT, COMPILE_STDERR = b"3", b"4"
COMPILE_DONE, RUN_DONE, LAUNCHER_ERROR, ACCEPTED = b"C", b"R", b"X", b"A"
# A successful compile's artifacts, when the job asks to collect them: data, then a manifest.
ARTIFACT_DATA, ARTIFACTS_DONE = b"F", b"M"
MAX_ARTIFACT_FILES = 256
# From the host, after the job, in a live session: stdin data, end of stdin, a signal.
STDIN_DATA, STDIN_END, SIGNAL = b"i", b"e", b"s"
MAX_CONTROL_FRAME_BYTES = 64 << 10
# Stdin the program has not read yet; past this the host's frames wait in the pipe.
MAX_PENDING_STDIN_BYTES = 1 << 20


# --- Stand-ins for the standard library modules this process does without (see the top) ---


class suppress:
    """contextlib.suppress."""

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: "TracebackType | None",
    ) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


def b64decode(data: str | bytes) -> bytes:
    """base64.b64decode (its default, non-strict, decoding)."""
    return binascii.a2b_base64(data)


class _JsonContext:
    """What json.JSONDecoder hands the C scanner of the json package: the same decoding."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.lower().replace("infinity", "inf"))


# typeshed wants a json.JSONDecoder; the scanner only reads these attributes of it.
_scan_json = _json.make_scanner(_JsonContext())  # type: ignore[arg-type]


def json_loads(data: str | bytes) -> "Any":
    """json.loads for one value with no surrounding whitespace (what the host writes)."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, SystemError):
        # The scanner describes a syntax error with json.decoder's exception, which it only
        # finds once imported: malformed input is rare enough to pay for the import.
        import json

        json.loads(text)
        raise ValueError("not JSON") from None
    if end != len(text):
        raise ValueError(f"extra data after JSON at character {end}")
    return value


def json_dumps(value: object) -> str:
    """json.dumps (ASCII, no spaces) for what this process reports: dicts, lists, strings,
    numbers, booleans and None."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a JSON number: {value!r}")
        return float.__repr__(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json_dumps(str(k))}:{json_dumps(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_dumps(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


EVENT_READ, EVENT_WRITE = 1, 2
# What the pump's selector watches, as each key's data: the host's control frames on our stdin,
# the program's stdin, and its two outputs (the indexes of their frame kinds).
HOST_CONTROLS, PROGRAM_STDIN, PROGRAM_STDOUT, PROGRAM_STDERR = -2, -1, 0, 1


class _Key:
    __slots__ = ("data", "events", "fd", "fileobj")

    def __init__(self, fileobj: "Pipe", fd: int, events: int, data: int) -> None:
        self.fileobj, self.fd, self.events, self.data = fileobj, fd, events, data


class Selector:
    """selectors.PollSelector, the part of it used here."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._keys: dict[int, _Key] = {}

    @staticmethod
    def _fd(fileobj: "Pipe") -> int:
        return fileobj if isinstance(fileobj, int) else fileobj.fileno()

    def register(self, fileobj: "Pipe", events: int, data: int) -> _Key:
        fd = self._fd(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} is already registered")
        key = self._keys[fd] = _Key(fileobj, fd, events, data)
        mask = (select.POLLIN if events & EVENT_READ else 0) | (
            select.POLLOUT if events & EVENT_WRITE else 0
        )
        self._poll.register(fd, mask)
        return key

    def unregister(self, fileobj: "Pipe") -> _Key:
        key = self._keys.pop(self._fd(fileobj))
        self._poll.unregister(key.fd)
        return key

    def get_key(self, fileobj: "Pipe") -> _Key:
        return self._keys[self._fd(fileobj)]

    def get_map(self) -> dict[int, _Key]:
        return self._keys

    def select(self, timeout: float | None = None) -> list[tuple[_Key, int]]:
        # As selectors: whatever the poll reports besides "writable" (a hang-up, an error)
        # makes a reader read, and besides "readable" makes a writer write, to find out.
        ready: list[tuple[_Key, int]] = []
        timeout_ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        while True:
            try:
                polled = self._poll.poll(timeout_ms)
                break
            except InterruptedError:
                continue
        for fd, event in polled:
            key = self._keys.get(fd)
            if key is None:
                continue
            events = (EVENT_WRITE if event & ~select.POLLIN else 0) | (
                EVENT_READ if event & ~select.POLLOUT else 0
            )
            if events & key.events:
                ready.append((key, events & key.events))
        return ready

    def close(self) -> None:
        self._keys.clear()


class Child:
    """subprocess.Popen, the part of it used here: a child in a session of its own, its stdin,
    stdout and stderr (or both outputs on one pipe) piped, `keep` left open, the rest closed."""

    def __init__(
        self, pid: int, stdin: "FileIO", stdout: "FileIO", stderr: "FileIO | None"
    ) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    @classmethod
    def start(
        cls,
        argv: list[str],
        merge_output: bool,
        keep: int,
        preexec: "Callable[[], None] | None" = None,
    ) -> "Child":
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = (-1, stdout_write) if merge_output else os.pipe()
        theirs = [stdin_read, stdout_write] + ([] if merge_output else [stderr_write])
        ours = [stdin_write, stdout_read] + ([] if merge_output else [stderr_read])
        # Tells this process why the exec failed (a successful exec closes it).
        error_read, error_write = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
            if pid == 0:
                cls._exec(
                    argv, (stdin_read, stdout_write, stderr_write), keep, error_write, preexec
                )
            os.close(error_write)
            failure = os.read(error_read, 256)
        finally:
            os.close(error_read)
            for fd in theirs:
                os.close(fd)
        if failure:
            os.waitpid(pid, 0)
            for fd in ours:
                os.close(fd)
            number, _, reason = failure.decode(errors="replace").partition(":")
            raise OSError(int(number) if number.isdigit() else 0, reason)
        # Owned by the Child from here: whoever reaps it closes them.
        stdin = open(stdin_write, "wb", buffering=0)  # noqa: SIM115
        stdout = open(stdout_read, "rb", buffering=0)  # noqa: SIM115
        stderr = None if merge_output else open(stderr_read, "rb", buffering=0)  # noqa: SIM115
        return cls(pid, stdin, stdout, stderr)

    def close_pipes(self) -> None:
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()

    @staticmethod
    def _exec(
        argv: list[str],
        streams: tuple[int, int, int],
        keep: int,
        error_write: int,
        preexec: "Callable[[], None] | None",
    ) -> "NoReturn":
        try:
            os.setsid()
            for target, fd in enumerate(streams):
                os.dup2(fd, target)
            if preexec is not None:
                preexec()
            low, high = sorted((keep, error_write))
            os.closerange(3, low)
            os.closerange(low + 1, high)
            os.closerange(high + 1, os.sysconf("SC_OPEN_MAX"))
            os.set_inheritable(keep, True)
            os.execv(argv[0], argv)
        except BaseException as exc:
            number = getattr(exc, "errno", None) or 0
            reason = getattr(exc, "strerror", None) or str(exc)
            os.write(error_write, f"{number}:{reason}".encode(errors="replace"))
        finally:
            os._exit(127)

    def poll(self) -> int | None:
        """The exit code once it has ended (it is then reaped), None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Framer:
    """Writes this process's frames on its stdout.

    Every frame starts with the job's token, which only the host and this process know: the
    program runs as the same user and can write into our stdout through /proc/1/fd/1, but it
    cannot make a frame the host accepts. Until the job's header is read there is no token yet,
    and frames (an error about that header) start with none.
    """

    def __init__(self) -> None:
        self.token = b""

    def send(self, kind: bytes, payload: bytes) -> None:
        write_all(1, self.token + FRAME.pack(kind, len(payload)) + payload)


def read_exact(size: int) -> bytes:
    parts: list[bytes] = []
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


def write_files(files: "list[FileEntry]") -> None:
    for entry in files:
        name = safe_name(entry["name"])
        directory = os.path.dirname(name)
        if directory:
            os.makedirs(directory, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, 0o755 if entry.get("executable") else 0o644)
        try:
            write_all(fd, b64decode(entry["content"]))
        finally:
            os.close(fd)


def optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def rlimit(name: str) -> int:
    if name not in RLIMITS:
        raise ValueError(f"unknown rlimit {name!r}")
    return RLIMITS[name]


def read_proc(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def read_started(fd: int) -> tuple[int, bytes]:
    """The program's pid, as its helper announces it before anything else (0: the helper
    ended first, killed before it could say), and what followed it in the pipe already."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 64)
        if not chunk:
            return 0, b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    word, _, pid = line.partition(b" ")
    return (int(pid) if word == b"started" and pid.isdigit() else 0), rest


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def anonymous_kb() -> int | None:
    """The sandbox's anonymous memory (heaps, stacks: AnonPages), when this is PID 1 of a
    sandbox. A program's resident set under gVisor also counts every page of the files it maps,
    in large chunks (a JVM hello world: 240 MB resident, 20 MB anonymous), so a program's memory
    here is the growth of this figure while it runs."""
    if os.getpid() != 1:
        return None
    try:
        for line in read_proc("/proc/meminfo").splitlines():
            if line.startswith(b"AnonPages:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def sample_processes(group: int, skip: int) -> tuple[float, int]:
    """CPU seconds (with their reaped children's) and resident KiB of the program's processes.

    Those are the members of its process group; as PID 1, every other process of the sandbox,
    since all of them are the program's (including any that left the group with setsid).
    """
    everyone = os.getpid() == 1
    ticks = pages = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or (everyone and name == "1") or name == str(skip):
            continue
        try:
            stat = read_proc(f"/proc/{name}/stat")
            # The command name in parentheses may itself contain spaces and parentheses.
            fields = stat[stat.rfind(b")") + 2 :].split()
            if not everyone and int(fields[2]) != group:
                continue
            # utime, stime, cutime, cstime
            ticks += sum(int(field) for field in fields[11:15])
            pages += int(read_proc(f"/proc/{name}/statm").split()[1])
        except (OSError, ValueError, IndexError):
            continue  # it ended while being read
    return ticks / CLOCK_TICKS_PER_S, pages * PAGE_KB


def spawn(
    argv: list[str], merge_output: bool, preexec: "Callable[[], None] | None" = None
) -> tuple[Child, int]:
    """The program under its helper, with pipes for its streams; and the helper's report pipe."""
    usage_read, usage_write = os.pipe()
    try:
        child = Child.start(
            [SPAWN_HELPER, str(usage_write), *argv], merge_output, usage_write, preexec
        )
    except BaseException:
        os.close(usage_read)
        raise
    finally:
        os.close(usage_write)
    return child, usage_read


class Prestarted:
    """An interpreter started at boot with the language's own command line, before its job is
    known. Its main source file is a FIFO, so it blocks where it opens (or first reads) it,
    after most of its start-up; the job's source is written into the FIFO, and a regular file
    with the same content replaces the FIFO before the interpreter reads past it, so that
    whatever reads the file again (a traceback's source line, the program itself) finds it.
    Nothing of ours runs inside the interpreter: it is the cold command, started early.

    `prelude` goes into the FIFO at once (Ruby: a byte-order mark, which lets it load its
    gems before it blocks); the host only sends `warm` jobs whose source it suits.
    """

    def __init__(self, spec: "PrestartSpec") -> None:
        self.argv = [str(part) for part in spec["argv"]]
        self.main = safe_name(str(spec["main"]))
        self.prelude = b64decode(spec.get("prelude", ""))
        self.fifo = -1
        self.proc: Child | None = None
        self.usage_read = -1
        self.program_pid = 0
        self.usage_unread = b""
        self.anonymous_base_kb: int | None = None
        # The job's main file entry, once a job it serves has come.
        self.source: FileEntry | None = None

    def start(self) -> None:
        os.mkfifo(self.main, 0o644)
        # Read-write: the open never blocks, and the interpreter's open finds a writer.
        self.fifo = os.open(self.main, os.O_RDWR | os.O_CLOEXEC)
        write_all(self.fifo, self.prelude)
        self.anonymous_base_kb = anonymous_kb()
        self.proc, self.usage_read = spawn(self.argv, merge_output=False)
        self.program_pid, self.usage_unread = read_started(self.usage_read)

    def take(self, job: "JobHeader") -> bool:
        """Whether the job runs exactly the command this interpreter was started with; if so,
        its main file is kept for release() and left out of the job's other files."""
        if (
            self.proc is None
            or self.proc.poll() is not None
            or not job.get("warm")
            or job.get("compile")
            or job["run"].get("merge_output")
            or list(job["run"]["argv"]) != self.argv
        ):
            return False
        for index, entry in enumerate(job["files"]):
            if entry["name"] == self.main:
                self.source = job["files"].pop(index)
                return True
        return False

    def release(self, deadline: float) -> None:
        """Gives the interpreter its source (the job's main file): from here it runs as the
        cold command would."""
        assert self.source is not None
        staged = f"{self.main}.runakode-staged"
        write_files([{**self.source, "name": staged}])
        os.set_blocking(self.fifo, False)
        view = memoryview(b64decode(self.source["content"]))
        while view:
            try:
                view = view[os.write(self.fifo, view) :]
            except BlockingIOError:
                # The pipe is full until the interpreter reads; one that died never will.
                if not process_exists(self.program_pid) or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
        os.replace(staged, self.main)
        # Its end of file: the interpreter now holds the only other end.
        os.close(self.fifo)
        self.fifo = -1

    def discard(self) -> None:
        """Not the job's command: ended and cleaned away, so the job starts cold."""
        if self.proc is not None:
            kill_group(self.proc.pid)
            with suppress(ChildProcessError):
                os.waitpid(self.proc.pid, 0)
            self.proc.close_pipes()
            self.proc.returncode = -9
            os.close(self.usage_read)
            self.proc = None
        if self.fifo >= 0:
            os.close(self.fifo)
            self.fifo = -1
        with suppress(FileNotFoundError):
            os.unlink(self.main)


class Controls:
    """A live session's input from the host: stdin for the program, signals, and whether the
    host is still there (its end of our stdin closes when it goes)."""

    def __init__(self, stdin: bytes) -> None:
        self.pending = bytearray(stdin)
        self.stdin_ended = False
        self.host_gone = False
        self.signals: list[int] = []
        self.unparsed = b""

    def wants_input(self) -> bool:
        return not self.host_gone and len(self.pending) < MAX_PENDING_STDIN_BYTES

    def read(self) -> None:
        try:
            chunk = os.read(0, CHUNK_BYTES)
        except OSError:
            chunk = b""
        if not chunk:
            self.host_gone = True
            return
        data = self.unparsed + chunk
        while len(data) >= FRAME.size:
            kind, size = FRAME.unpack_from(data)
            if size > MAX_CONTROL_FRAME_BYTES:
                # Not the host's framing (something wrote into our stdin): trust it no more.
                self.host_gone = True
                return
            if len(data) < FRAME.size + size:
                break
            payload, data = data[FRAME.size : FRAME.size + size], data[FRAME.size + size :]
            if kind == STDIN_DATA and not self.stdin_ended:
                self.pending += payload
            elif kind == STDIN_END:
                self.stdin_ended = True
            elif kind == SIGNAL and payload.isdigit() and 1 <= int(payload) <= 31:
                self.signals.append(int(payload))
        self.unparsed = data


class Pacing:
    """When a phase's pump samples next and how long it may sleep until then."""

    def __init__(self, started: float, deadline: float) -> None:
        self.started = started
        self.deadline = deadline
        # The program has replaced its forked helper (exec) by now: a first sample at once
        # measures the program itself, however soon it ends.
        self.next_sample_at = time.monotonic()
        self.idle_wait_s = IDLE_WAIT_FIRST_S
        self.exited_at: float | None = None

    def sampled(self, now: float, cost_s: float) -> None:
        every_s = next(every for until, every in SAMPLE_SCHEDULE if now - self.started < until)
        self.next_sample_at = now + max(every_s, SAMPLE_COST_RATIO * cost_s)

    def drained(self, now: float, outputs_open: bool) -> bool:
        """Once the program has ended: whether its output is done (closed, or held open too
        long by something it left behind)."""
        if self.exited_at is None:
            self.exited_at = now
        return not outputs_open or now - self.exited_at > DRAIN_AFTER_EXIT_S

    def wait_s(self, now: float, outputs_open: bool) -> float:
        wait_s = min(self.deadline - now, self.next_sample_at - now, DRAIN_AFTER_EXIT_S)
        if not outputs_open:
            # Its output is closed but it has not exited yet (usually it is exiting):
            # nothing will wake us up, so check again soon, then less and less often.
            wait_s = min(wait_s, self.idle_wait_s)
            self.idle_wait_s = min(2 * self.idle_wait_s, DRAIN_AFTER_EXIT_S)
        return max(0.0, wait_s)


class Phase:
    """One process (compile or run) with its pipes pumped until it ends or a limit hits."""

    def __init__(
        self,
        framer: Framer,
        spec: "PhaseSpec",
        stdin: bytes,
        kinds: tuple[bytes, bytes],
        limit: int,
        controls: Controls | None = None,
        *,
        live_stdin: bool = False,
    ) -> None:
        self.framer = framer
        self.argv = list(spec["argv"])
        self.timeout_s = float(spec["timeout_s"])
        self.kill_on_flood = bool(spec.get("kill_on_output_limit", True))
        # One pipe for both streams keeps their order, as a terminal would show it.
        self.merge_output = bool(spec.get("merge_output", False))
        # Over cpu_limit_s is a time-out; the program is only killed once past cpu_kill_s.
        self.cpu_limit_s = optional_float(spec.get("cpu_time_limit_s"))
        self.cpu_kill_s = optional_float(spec.get("cpu_kill_s"))
        memory_limit_kb = spec.get("memory_limit_kb")
        self.memory_limit_kb = None if memory_limit_kb is None else int(memory_limit_kb)
        self.rlimits = [
            (rlimit(name), int(value)) for name, value in spec.get("rlimits", {}).items()
        ]
        self.stdin = memoryview(stdin)
        self.controls = controls
        # The program's stdin is the session's (controls.pending), open until the host ends it.
        self.live_stdin = live_stdin and controls is not None
        self.abandoned = False
        self.kinds = kinds
        self.limit = limit
        self.sent = [0, 0]
        self.timed_out = False
        self.output_limit = False
        self.truncated = False
        # The helper's pid (also the program's process group), and the program's own.
        self.pid = 0
        self.program_pid = 0
        self.helper_status: int | None = None
        self.status: int | None = None
        self.usage_fd = -1
        self.usage_unread = b""
        # From wait4: the program's (and its reaped descendants') usage, and that of its orphans
        # this process reaped as PID 1.
        self.reaped_cpu_s = 0.0
        self.reaped_rss_kb = 0
        self.child_cpu_s = 0.0
        # From /proc while it runs: what the rusage misses of processes that were killed.
        self.sampled_cpu_s = 0.0
        self.sampled_rss_kb = 0
        # In a sandbox: anonymous memory before the program started, and its peak growth since.
        self.anonymous_base_kb: int | None = None
        self.sampled_anonymous_kb = 0
        self.last_rss_kb = 0
        self.next_scan_at = 0.0
        self.cpu_killed = False
        self.memory_exceeded = False

    def run(self, prestarted: "Prestarted | None" = None) -> "Report":
        if prestarted is not None:
            proc, started = self.take_over(prestarted)
        else:
            started = time.monotonic()
            started_proc = self.start()
            if started_proc is None:
                return self.report(127, None, started, measured=False)
            proc = started_proc
        self.pump(proc, started)
        returncode = self.finish(proc)
        report = (
            self.report(128 - returncode, -returncode, started)
            if returncode < 0
            else self.report(returncode, None, started)
        )
        report["prestarted"] = prestarted is not None
        return report

    def take_over(self, prestarted: "Prestarted") -> tuple[Child, float]:
        """The pre-started interpreter as this phase's process, given its source now; and when
        its clock started."""
        proc = prestarted.proc
        assert proc is not None  # take() accepted the job: the interpreter runs
        self.anonymous_base_kb = prestarted.anonymous_base_kb
        self.program_pid, self.usage_unread = prestarted.program_pid, prestarted.usage_unread
        self.pid, self.usage_fd = proc.pid, prestarted.usage_read
        for pid in (proc.pid, self.program_pid):
            self.apply_rlimits(pid)
        # Its clock starts when its source arrives: the interpreter's start was done ahead.
        started = time.monotonic()
        prestarted.release(started + self.timeout_s)
        return proc, started

    def start(self) -> Child | None:
        """The program, started under its helper; None (said on its stderr) when it cannot be."""
        self.anonymous_base_kb = anonymous_kb()
        try:
            preexec = self.apply_own_rlimits if self.rlimits else None
            proc, self.usage_fd = spawn(self.argv, self.merge_output, preexec)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.framer.send(self.kinds[1], f"cannot start {SPAWN_HELPER}: {reason}\n".encode())
            return None
        self.pid = proc.pid
        self.program_pid, self.usage_unread = read_started(self.usage_fd)
        return proc

    def finish(self, proc: Child) -> int:
        """Kills what is left of the phase and reaps it; the program's exit code (negative: the
        signal that ended it)."""
        kill_group(proc.pid)
        if self.helper_status is None:
            self.collect(*os.wait4(proc.pid, 0))
        if not self.ended() and self.program_pid:
            # Its helper was killed: as PID 1 this process inherited the program.
            with suppress(ChildProcessError):
                self.collect(*os.wait4(self.program_pid, 0))
        if self.status is None:
            self.status = self.helper_status
        os.close(self.usage_fd)
        assert self.status is not None
        # Reaped here, so Popen must not wait for it again.
        proc.returncode = os.waitstatus_to_exitcode(self.status)
        proc.close_pipes()
        return proc.returncode

    def apply_own_rlimits(self) -> None:
        self.apply_rlimits(0)

    def apply_rlimits(self, pid: int) -> None:
        """On the process `pid` (0: this one), soft = hard; a pre-started program gets them once
        its job is known, as it would have had them from its start."""
        for which, value in self.rlimits:
            # Never above the sandbox's own hard limit, which cannot be raised.
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            with suppress(ProcessLookupError):
                resource.prlimit(pid, which, (value, value))

    def report(
        self, exit_code: int, signal_number: int | None, started: float, *, measured: bool = True
    ) -> "Report":
        cpu_time_ms = int(max(self.sampled_cpu_s, self.reaped_cpu_s) * 1000)
        time_limit: Literal["cpu", "wall"] | None = None
        # As Judge0 grades: CPU time over the limit is a time-out even when it finished.
        over_cpu = self.cpu_limit_s is not None and cpu_time_ms > self.cpu_limit_s * 1000
        if self.cpu_killed or (measured and over_cpu):
            time_limit = "cpu"
        elif self.timed_out:
            time_limit = "wall"
        return {
            "exit_code": exit_code,
            "signal": signal_number,
            "time_ms": int((time.monotonic() - started) * 1000),
            "cpu_time_ms": cpu_time_ms if measured else None,
            "memory_kb": self.memory_kb(time.monotonic() - started) if measured else None,
            "time_limit": time_limit,
            "timed_out": time_limit is not None,
            "memory_exceeded": self.memory_exceeded,
            "output_limit": self.output_limit,
            "truncated": self.truncated,
        }

    def memory_kb(self, wall_s: float) -> int:
        if self.anonymous_base_kb is None:
            return max(self.sampled_rss_kb, self.reaped_rss_kb)
        # A short run can do most of its work between two samples: its resident peak stands in
        # (it also counts the pages of its files: a few MB for a native program or Python; the
        # large runtimes whose files weigh 100+ MB, JVMs and Node, never run this short).
        if wall_s < SHORT_RUN_S:
            return max(self.sampled_anonymous_kb, self.reaped_rss_kb)
        return self.sampled_anonymous_kb or self.reaped_rss_kb

    def collect(self, pid: int, status: int, usage: resource.struct_rusage) -> None:
        self.reaped_cpu_s += usage.ru_utime + usage.ru_stime
        if pid == self.pid:
            # The helper's peak includes ours (see SPAWN_HELPER): its report has the program's.
            self.helper_status = status
            self.child_cpu_s = usage.ru_utime + usage.ru_stime
            return
        # The program itself (its helper was killed), or an orphan: their peak is their own.
        self.reaped_rss_kb = max(self.reaped_rss_kb, usage.ru_maxrss)
        if pid == self.program_pid:
            self.status = status

    def ended(self) -> bool:
        """Whether the program has ended: its helper reported it, or it was reaped here."""
        if self.status is None and self.helper_status is not None:
            self.read_program_usage()
        return self.status is not None

    def read_program_usage(self) -> None:
        """How the program ended and what it used, as the helper saw it. Nothing when the helper
        was killed: by the launcher with the program (the samples tell then), or by the program
        (which then goes on, and is reaped here)."""
        line, self.usage_unread = self.usage_unread, b""
        try:
            os.set_blocking(self.usage_fd, False)
            line += os.read(self.usage_fd, 256)
        except BlockingIOError:
            pass
        try:
            status, user_us, system_us, maxrss_kb = (int(part) for part in line.split())
        except ValueError:
            if self.program_pid and not process_exists(self.program_pid):
                self.status = self.helper_status
            return
        self.status = status
        self.reaped_rss_kb = max(self.reaped_rss_kb, maxrss_kb)
        # The program's CPU time instead of the helper's (which is the program's and its own).
        self.reaped_cpu_s += (user_us + system_us) / 1e6 - self.child_cpu_s

    def reap(self) -> None:
        """Collect every child that ended: the program, and as PID 1 its orphans too (a zombie
        still counts against RLIMIT_NPROC)."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.collect(pid, status, usage)

    def sample(self, now: float) -> None:
        in_sandbox = self.anonymous_base_kb is not None
        # Processes are scanned to enforce a CPU limit, for the memory figure outside a sandbox,
        # and now and then for the CPU figure of a program that may get killed.
        if self.cpu_kill_s is not None or not in_sandbox or now >= self.next_scan_at:
            self.next_scan_at = now + CPU_FIGURES_EVERY_S
            self.scan_processes()
        memory_kb = self.anonymous_growth_kb() if in_sandbox else self.last_rss_kb
        if self.memory_limit_kb is not None and memory_kb > self.memory_limit_kb:
            self.memory_exceeded = True

    def scan_processes(self) -> None:
        cpu_s, self.last_rss_kb = sample_processes(self.pid, skip=self.pid)
        # Processes reaped already are gone from /proc; their usage is in the rusage.
        cpu_s += self.reaped_cpu_s
        self.sampled_cpu_s = max(self.sampled_cpu_s, cpu_s)
        self.sampled_rss_kb = max(self.sampled_rss_kb, self.last_rss_kb)
        if self.cpu_kill_s is not None and cpu_s > self.cpu_kill_s:
            self.cpu_killed = True

    def anonymous_growth_kb(self) -> int:
        assert self.anonymous_base_kb is not None
        now_kb = anonymous_kb() or self.anonymous_base_kb
        # The lowest point so far is the base: what an earlier phase (a compiler) left is freed
        # by gVisor a little after its processes are gone, while this phase already runs.
        self.anonymous_base_kb = min(self.anonymous_base_kb, now_kb)
        growth_kb = now_kb - self.anonymous_base_kb
        self.sampled_anonymous_kb = max(self.sampled_anonymous_kb, growth_kb)
        return growth_kb

    def pump(self, proc: Child, started: float) -> None:
        """Moves the phase's input and output until it ends or one of its limits stops it."""
        selector = self.watch_pipes(proc)
        pacing = Pacing(started, started + self.timeout_s)
        while True:
            now = time.monotonic()
            if self.stops(now, selector, proc, pacing):
                break
            for key, _ in selector.select(pacing.wait_s(now, outputs_open(selector))):
                self.serve(selector, proc, key)
            if self.output_limit:
                break
        selector.close()

    def watch_pipes(self, proc: Child) -> Selector:
        """A selector on the program's outputs, and on its stdin when there is input to give
        now (a live stdin is watched as input comes: see follow_controls)."""
        selector = Selector()
        os.set_blocking(proc.stdin.fileno(), False)
        if self.stdin and not self.live_stdin:
            selector.register(proc.stdin, EVENT_WRITE, PROGRAM_STDIN)
        elif not self.live_stdin:
            proc.stdin.close()
        selector.register(proc.stdout, EVENT_READ, PROGRAM_STDOUT)
        if proc.stderr is not None:
            selector.register(proc.stderr, EVENT_READ, PROGRAM_STDERR)
        return selector

    def stops(self, now: float, selector: Selector, proc: Child, pacing: "Pacing") -> bool:
        """Whether the phase is over: the program ended and its output drained, or the clock
        ran out, the host left, or a sample found it over a limit. Samples it when due."""
        self.reap()
        if self.ended() and pacing.drained(now, outputs_open(selector)):
            return True
        if now >= pacing.deadline:
            self.timed_out = True
            return True
        if self.controls is not None:
            self.follow_controls(selector, proc)
            if self.abandoned:
                return True
        if now >= pacing.next_sample_at:
            self.sample(now)
            if self.cpu_killed or self.memory_exceeded:
                return True
            pacing.sampled(now, cost_s=time.monotonic() - now)
        return False

    def serve(self, selector: Selector, proc: Child, key: _Key) -> None:
        """Whatever the selector found ready: the host's frames, the program's stdin, or one
        of its outputs."""
        if key.data == HOST_CONTROLS:
            assert self.controls is not None
            self.controls.read()
        elif key.data == PROGRAM_STDIN:
            self.feed_stdin(selector, proc)
        elif not self.forward(selector, key.fd, key.data):
            self.output_limit = self.truncated = True

    def feed_stdin(self, selector: Selector, proc: Child) -> None:
        if self.live_stdin:
            self.feed_live_stdin(proc)
            return
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

    def feed_live_stdin(self, proc: Child) -> None:
        assert self.controls is not None
        pending = self.controls.pending
        try:
            written = os.write(proc.stdin.fileno(), pending[:CHUNK_BYTES])
        except BlockingIOError:
            return
        except BrokenPipeError:
            written = len(pending)
        del pending[:written]

    def follow_controls(self, selector: Selector, proc: Child) -> None:
        """Delivers the host's signals, and keeps the selector watching what is needed now:
        our stdin while the host may send more, the program's stdin while input waits."""
        controls = self.controls
        assert controls is not None
        if controls.host_gone:
            self.abandoned = True
            return
        for number in controls.signals:
            with suppress(ProcessLookupError, PermissionError):
                # The helper ignores the catchable ones: they reach the program and its children.
                os.killpg(self.pid, number)
        controls.signals.clear()
        watch(selector, 0, EVENT_READ, HOST_CONTROLS, controls.wants_input())
        if self.live_stdin and not proc.stdin.closed:
            if not controls.pending and controls.stdin_ended:
                watch(selector, proc.stdin, EVENT_WRITE, PROGRAM_STDIN, False)
                proc.stdin.close()
            else:
                watch(selector, proc.stdin, EVENT_WRITE, PROGRAM_STDIN, bool(controls.pending))

    def forward(self, selector: Selector, fd: int, index: int) -> bool:
        """One read of an output, sent on within the phase's limit; False when over it and the
        phase is to end for that."""
        chunk = os.read(fd, CHUNK_BYTES)
        if not chunk:
            selector.unregister(fd)
            return True
        room = self.limit - self.sent[index]
        if room > 0:
            self.framer.send(self.kinds[index], chunk[:room])
            self.sent[index] += min(room, len(chunk))
        if len(chunk) <= room:
            return True
        self.truncated = True
        return not self.kill_on_flood


def watch(selector: Selector, pipe: "Pipe", events: int, data: int, wanted: bool) -> None:
    try:
        selector.get_key(pipe)
        registered = True
    except KeyError:
        registered = False
    if wanted and not registered:
        selector.register(pipe, events, data)
    elif not wanted and registered:
        selector.unregister(pipe)


def outputs_open(selector: Selector) -> bool:
    return any(key.data in (PROGRAM_STDOUT, PROGRAM_STDERR) for key in selector.get_map().values())


def kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, SIGKILL)


def kill_everything_else() -> None:
    # As the sandbox's first process this reaches every process the program left behind,
    # including ones that left the process group with setsid. Anywhere but PID 1 of a sandbox,
    # kill(-1) would hit unrelated processes, so it is refused there.
    if os.getpid() != 1:
        return
    # They are reaped too: under gVisor a zombie still counts against RLIMIT_NPROC, so leftovers
    # of the compile phase would take tasks from the program. kill(-1) is repeated in case a
    # fork was under way the first time.
    give_up_at = time.monotonic() + LEFTOVER_WAIT_S
    while time.monotonic() < give_up_at:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(-1, SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.001)


def collect_artifacts(framer: Framer, spec: "CollectSpec") -> None:
    """Sends the host what the compile produced that matches the job's patterns (regular files
    only, never through a symbolic link), their bytes then a manifest; an empty manifest when
    they exceed the job's bound. Called after the compile's processes are gone and before the
    program starts, so the host can run them again in other sandboxes: nothing the program
    could write is among them."""
    from fnmatch import fnmatchcase  # only compiling jobs pay for it (it imports re)

    manifest: list[dict[str, object]] = []
    try:
        patterns = [str(pattern) for pattern in spec["patterns"]]
        budget = int(spec["max_bytes"])
        found: list[tuple[str, os.stat_result]] = []
        for directory, subdirectories, names in os.walk("."):
            subdirectories.sort()
            for name in sorted(names):
                path = os.path.normpath(os.path.join(directory, name))
                if any(fnmatchcase(path, pattern) for pattern in patterns):
                    found.append((path, os.lstat(path)))
        found = [(path, info) for path, info in found if stat.S_ISREG(info.st_mode)]
        if len(found) > MAX_ARTIFACT_FILES or sum(info.st_size for _, info in found) > budget:
            found = []
        for path, info in found:
            size = send_file(framer, path, info.st_size)
            manifest.append({"name": path, "size": size, "executable": bool(info.st_mode & 0o111)})
    except (OSError, ValueError, KeyError, TypeError):
        manifest = []  # the host takes nothing whose bytes and manifest disagree
    framer.send(ARTIFACTS_DONE, json_dumps({"files": manifest}).encode())


def send_file(framer: Framer, path: str, size: int) -> int:
    """At most `size` bytes of a regular file in ARTIFACT_DATA frames; how many were sent."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        sent = 0
        while sent < size and (chunk := os.read(fd, min(CHUNK_BYTES, size - sent))):
            framer.send(ARTIFACT_DATA, chunk)
            sent += len(chunk)
        return sent
    finally:
        os.close(fd)


def prestart_from_argv(argv: list[str]) -> Prestarted | None:
    """The interpreter `--prestart=JSON` asks for, started; None without one, or when it
    cannot start (its job then starts cold, as without it)."""
    for arg in argv:
        if arg.startswith("--prestart="):
            prestarted = Prestarted(json_loads(arg.partition("=")[2]))
            try:
                prestarted.start()
            except OSError:
                prestarted.discard()
                return None
            return prestarted
    return None


def read_job() -> "JobHeader":
    """The job's header, as the host sends it on our stdin: its length, then its JSON."""
    (size,) = HEADER.unpack(read_exact(HEADER.size))
    if size > MAX_HEADER_BYTES:
        raise ValueError("job header too large")
    job: JobHeader = json_loads(read_exact(size))
    return job


def make_phases(framer: Framer, job: "JobHeader") -> tuple[Phase | None, Phase]:
    """The job's compile phase (None without one) and its run phase."""
    limit = int(job["output_max_bytes"])
    stdin = b64decode(job.get("stdin", ""))
    controls = Controls(stdin) if job.get("interactive") else None
    compile_phase = None
    if job.get("compile"):
        compile_limit = int(job["compile"].get("output_max_bytes", limit))
        compile_kinds = (COMPILE_STDOUT, COMPILE_STDERR)
        compile_phase = Phase(framer, job["compile"], b"", compile_kinds, compile_limit, controls)
    run_phase = Phase(
        framer, job["run"], stdin, (RUN_STDOUT, RUN_STDERR), limit, controls, live_stdin=True
    )
    return compile_phase, run_phase


def run_phases(
    framer: Framer,
    compile_phase: Phase | None,
    run_phase: Phase,
    prestarted: Prestarted | None,
    collect: "CollectSpec | None",
) -> None:
    """The compile (if any) then the program, each followed by its report, and the compile's
    artifacts between them when the job collects them; no further once a phase fails."""
    for phase, done in ((compile_phase, COMPILE_DONE), (run_phase, RUN_DONE)):
        if phase is None:
            continue
        report = phase.run(prestarted if phase is run_phase else None)
        kill_everything_else()
        if phase.abandoned:
            return  # the host is gone: nobody to report to
        framer.send(done, json_dumps(report).encode())
        if report["exit_code"] != 0 or report["timed_out"]:
            return
        if phase is compile_phase and collect:
            collect_artifacts(framer, collect)


def main() -> int:
    framer = Framer()
    prestarted = prestart_from_argv(sys.argv[1:])
    if "--announce" in sys.argv[1:]:
        # Booted and waiting: lets the host keep this sandbox as ready (sent before any job,
        # so before any program could exist to fake it).
        write_all(1, READY)
    try:
        job = read_job()
        framer.token = bytes.fromhex(job["token"])
        compile_phase, run_phase = make_phases(framer, job)
        if prestarted is not None and not prestarted.take(job):
            prestarted.discard()
            prestarted = None
        write_files(job["files"])
    except (EOFError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        framer.send(LAUNCHER_ERROR, str(exc).encode())
        return 3
    # From here on, whatever happens to the sandbox is the program's doing, not a dead sandbox.
    framer.send(ACCEPTED, b"")
    run_phases(framer, compile_phase, run_phase, prestarted, job.get("collect"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
