"""The terminal client: `runakode run FILE` and `runakode languages` against a running server.

`run` streams the program over the native WebSocket (/api/ws): its stdout and stderr arrive on
ours as it writes them, our stdin (or --stdin FILE) goes to it, and its exit code becomes ours.
When the run does not end well, one line on stderr says why (`runakode: timeout ...`).
"""

import argparse
import codecs
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from runakode.languages import LANGUAGES

DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_HEADER = "X-Auth-Token"
# Exit codes of the client itself (the program's own are passed through).
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # sysexits' EX_UNAVAILABLE: the server could not be reached or refused
EXIT_FAILED = 1  # the program did not run to an end of its own (compile error, service error)
STDIN_CHUNK = 64 * 1024
# The whole run and its queue wait: the server's own deadlines end it long before.
RUN_TIMEOUT_S = 600.0


class ClientError(Exception):
    """A problem of the client or the server, not of the program: one line, then an exit."""

    def __init__(self, message: str, exit_code: int = EXIT_UNAVAILABLE) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


def main(argv: Sequence[str]) -> NoReturn:
    args = _parser().parse_args(argv)
    try:
        code = args.command(args)
    except ClientError as error:
        print(f"runakode: {error.message}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runakode",
        description="Run a program on a runakode server, or list its languages "
        "(`runakode` with no command, or with --config, serves instead).",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("RUNAKODE_URL", DEFAULT_URL),
        help=f"the server (default: $RUNAKODE_URL or {DEFAULT_URL}); "
        "an API key comes from $RUNAKODE_TOKEN",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run FILE and stream its output; its exit code becomes ours",
        description="Run FILE on the server, streaming its output. Arguments after -- go to "
        "the program. Without --stdin, this terminal's input (or a pipe) is the program's.",
    )
    run.add_argument("file", type=Path, metavar="FILE")
    run.add_argument(
        "-l", "--language", help="language name or alias (default: from FILE's extension)"
    )
    run.add_argument("--stdin", type=Path, metavar="FILE", help="the program's input, from FILE")
    run.add_argument(
        "-f",
        "--file",
        dest="extra_files",
        type=Path,
        action="append",
        default=[],
        metavar="EXTRA",
        help="another source file of the program, beside FILE (repeatable)",
    )
    run.add_argument("args", nargs="*", metavar="ARGS", help="the program's arguments (after --)")
    run.set_defaults(command=run_file)
    languages = commands.add_parser("languages", help="list the server's languages")
    languages.add_argument("--json", action="store_true", help="the server's answer as JSON")
    languages.set_defaults(command=list_languages)
    return parser


# ---- the server's languages ------------------------------------------------------------------


def _headers() -> dict[str, str]:
    token = os.environ.get("RUNAKODE_TOKEN")
    return {TOKEN_HEADER: token} if token else {}


def fetch_languages(url: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/languages", headers=_headers(), timeout=30)
    except httpx.HTTPError as exc:
        raise ClientError(f"cannot reach {url}: {exc}") from None
    if response.status_code == 401:
        raise ClientError("the server wants an API key: set RUNAKODE_TOKEN")
    if response.status_code != 200:
        raise ClientError(f"{url} answered {response.status_code}: {response.text[:200]}")
    listed: list[dict[str, Any]] = response.json()
    return listed


def list_languages(args: argparse.Namespace) -> int:
    listed = fetch_languages(args.url)
    if args.json:
        print(json.dumps(listed, indent=2))
        return 0
    width = max((len(entry["name"]) for entry in listed), default=0)
    for entry in listed:
        version = entry.get("version") or "?"
        note = "" if entry.get("available", True) else "  (unavailable)"
        aliases = ", ".join(entry.get("aliases") or [])
        print(f"{entry['name']:<{width}}  {version}{note}" + (f"  [{aliases}]" if aliases else ""))
    return 0


def guess_language(path: Path, listed: list[dict[str, Any]]) -> str:
    """The first language of the catalog, among those the server can run now, whose source
    files end like `path` (`.c` is gcc's C, `.pl` Perl: --language picks another)."""
    available = {entry["name"] for entry in listed if entry.get("available", True)}
    suffix = path.suffix.lower()
    for name, language in LANGUAGES.items():
        if name in available and suffix in language.source_extensions:
            return name
    raise ClientError(
        f"cannot tell the language of {path.name} from its extension: use --language "
        "(`runakode languages` lists them)",
        EXIT_USAGE,
    )


# ---- a run -----------------------------------------------------------------------------------


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise ClientError(f"cannot read {what} {path}: {exc.strerror}", EXIT_USAGE) from None


def run_file(args: argparse.Namespace) -> int:
    source = _read_text(args.file, "the program")
    language = args.language or guess_language(args.file, fetch_languages(args.url))
    request: dict[str, Any] = {
        "type": "run",
        "language": language,
        "source_code": source,
        "args": list(args.args),
        "files": [
            {"name": extra.name, "content": _read_text(extra, "the file")}
            for extra in args.extra_files
        ],
    }
    given_stdin = args.stdin is not None
    if given_stdin:
        request["stdin"] = _read_text(args.stdin, "the input")
    with _connect(args.url) as connection:
        connection.send(json.dumps(request))
        if given_stdin:
            connection.send(json.dumps({"type": "close_stdin"}))
        else:
            _forward_stdin(connection, sys.stdin.buffer)
        return _relay(connection)


def _websocket_url(url: str) -> str:
    parts = urlsplit(url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ClientError(f"--url must be http:// or https://, not {url!r}", EXIT_USAGE)
    return urlunsplit((scheme, parts.netloc, parts.path + "/api/ws", "", ""))


def _connect(url: str) -> ClientConnection:
    try:
        return connect(
            _websocket_url(url),
            additional_headers=_headers(),
            open_timeout=30,
            max_size=None,
            # The server sends nothing while a program computes quietly.
            ping_interval=None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise ClientError(
                f"the server refused the run ({status}): a valid API key in RUNAKODE_TOKEN?"
            ) from None
        raise ClientError(f"the server refused the run ({status})") from None
    except (OSError, InvalidURI, TimeoutError) as exc:
        raise ClientError(f"cannot reach {url}: {exc}") from None


def _forward_stdin(connection: ClientConnection, stream: BinaryIO) -> None:
    """Our input to the program as it comes (a terminal's lines, a pipe's chunks), then its
    end of file; in a daemon thread, so that a program that never reads does not hold us."""

    def copy() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while chunk := os.read(stream.fileno(), STDIN_CHUNK):
                if text := decoder.decode(chunk):
                    connection.send(json.dumps({"type": "stdin", "data": text}))
            if tail := decoder.decode(b"", final=True):
                connection.send(json.dumps({"type": "stdin", "data": tail}))
            connection.send(json.dumps({"type": "close_stdin"}))
        except (OSError, ValueError, ConnectionClosed):
            pass  # the run is over, or we have no stdin at all

    threading.Thread(target=copy, name="stdin", daemon=True).start()


def _relay(connection: ClientConnection) -> int:
    """The run's frames to our stdout and stderr; the exit code the run deserves."""
    out, err = sys.stdout.buffer, sys.stderr.buffer
    try:
        for message in connection:
            frame = json.loads(message)
            kind = frame.get("type")
            if kind == "output":
                target = out if frame["stream"] == "stdout" and frame["stage"] == "run" else err
                target.write(frame["data"].encode("utf-8", errors="replace"))
                target.flush()
            elif kind == "error":
                raise ClientError(str(frame.get("message") or "the server refused the run"))
            elif kind == "finished":
                return _exit_code(frame["result"])
    except ConnectionClosed:
        pass
    raise ClientError("the connection ended before the run did")


def _exit_code(result: dict[str, Any]) -> int:
    status = str(result.get("status"))
    exit_code = result.get("exit_code")
    if status == "ok":
        return 0
    sys.stdout.flush()
    detail = {
        "timeout": f"after {result.get('exec_time_ms')} ms",
        "memory_limit": "the program used more memory than allowed",
        "output_limit": "the program wrote more than allowed",
        "compile_error": "see the compiler's messages above",
        "internal_error": str(result.get("stderr") or "").strip(),
    }.get(status, f"exit code {exit_code}")
    print(f"runakode: {status}" + (f" ({detail})" if detail else ""), file=sys.stderr)
    if isinstance(exit_code, int) and 0 < exit_code < 256 and status != "compile_error":
        return exit_code
    return EXIT_FAILED
