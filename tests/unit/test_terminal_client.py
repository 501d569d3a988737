from pathlib import Path
from typing import Any

import pytest

from runakode.cli import _client_command
from runakode.terminal_client import ClientError, _exit_code, _websocket_url, guess_language

LISTED: list[dict[str, Any]] = [
    {"name": "c", "available": True},
    {"name": "c-clang", "available": True},
    {"name": "perl", "available": False},
    {"name": "prolog", "available": True},
    {"name": "python", "available": True},
]


@pytest.mark.parametrize(
    ("argv", "client"),
    [
        (["run", "x.py"], True),
        (["languages"], True),
        (["--url", "http://h:1", "run", "x.py"], True),
        (["--url=http://h:1", "languages"], True),
        ([], False),
        (["--config", "config.yaml"], False),
        (["--port", "9000"], False),
    ],
)
def test_client_commands_are_told_from_serving(argv: list[str], client: bool) -> None:
    assert _client_command(argv) is client


def test_the_language_is_the_first_available_one_for_the_extension() -> None:
    assert guess_language(Path("a/hello.c"), LISTED) == "c"
    assert guess_language(Path("HELLO.PY"), LISTED) == "python"
    # Perl would come first, but this server cannot run it now.
    assert guess_language(Path("facts.pl"), LISTED) == "prolog"
    with pytest.raises(ClientError, match="--language") as refused:
        guess_language(Path("notes.xyz"), LISTED)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize(
    ("result", "code", "said"),
    [
        ({"status": "ok", "exit_code": 0}, 0, ""),
        ({"status": "runtime_error", "exit_code": 3}, 3, "runakode: runtime_error (exit code 3)"),
        ({"status": "timeout", "exit_code": 137, "exec_time_ms": 5000}, 137, "after 5000 ms"),
        ({"status": "compile_error", "exit_code": 0}, 1, "compile_error"),
        ({"status": "internal_error", "exit_code": -1, "stderr": "engine"}, 1, "(engine)"),
    ],
)
def test_the_exit_code_and_the_status_line(
    result: dict[str, Any], code: int, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(result) == code
    stderr = capsys.readouterr().err
    assert said in stderr if said else stderr == ""


def test_websocket_urls_follow_the_server_url() -> None:
    assert _websocket_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/api/ws"
    assert _websocket_url("https://runner.example/base/") == "wss://runner.example/base/api/ws"
    with pytest.raises(ClientError):
        _websocket_url("ftp://x")
