"""`runakode run` and `runakode languages`, the real console script against the real service:
output streamed as written, stdin from a pipe or a file, the program's exit code as the
client's, the status on stderr, API keys from RUNAKODE_TOKEN."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import BIN, ServiceProcess, free_port, running, service_config

API_KEY = "terminal-key-93ab"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=["python", "c"],
        jobTimeout="5s",
        apiTimeout="60s",
        auth={"tokens": [API_KEY]},
    )
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service


def client_env(server: ServiceProcess, token: str | None = API_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAKODE_")}
    env["RUNAKODE_URL"] = server.url
    if token is not None:
        env["RUNAKODE_TOKEN"] = token
    return env


def runakode(
    server: ServiceProcess,
    *args: str,
    stdin: str = "",
    cwd: Path | None = None,
    token: str | None = API_KEY,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "runakode"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=client_env(server, token),
        cwd=cwd,
        timeout=TIMEOUT_S,
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_a_program_runs_with_its_arguments_and_piped_stdin(
    server: ServiceProcess, tmp_path: Path
) -> None:
    program = write(
        tmp_path,
        "echo_args.py",
        "import sys\nprint(sys.argv[1:])\nprint(sys.stdin.read().upper(), end='')\n",
    )
    done = runakode(server, "run", str(program), "--", "-x", "two words", stdin="piped\ninput\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['-x', 'two words']\nPIPED\nINPUT\n"
    assert done.stderr == ""


def test_the_programs_exit_code_is_the_clients_and_its_status_goes_to_stderr(
    server: ServiceProcess, tmp_path: Path
) -> None:
    program = write(
        tmp_path,
        "fails.py",
        "import sys\nprint('out')\nprint('oops', file=sys.stderr)\nsys.exit(7)\n",
    )
    done = runakode(server, "run", str(program))
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert done.stderr.splitlines() == ["oops", "runakode: runtime_error (exit code 7)"]


def test_stdin_from_a_file_and_extra_source_files(server: ServiceProcess, tmp_path: Path) -> None:
    write(tmp_path, "helper.py", "def shout(text):\n    return text.upper() + '!'\n")
    program = write(tmp_path, "main.py", "from helper import shout\nprint(shout(input()))\n")
    given = write(tmp_path, "input.txt", "from a file\n")
    done = runakode(
        server, "run", str(program), "--stdin", str(given), "--file", str(tmp_path / "helper.py")
    )
    assert (done.returncode, done.stdout) == (0, "FROM A FILE!\n"), done.stderr


def test_the_language_comes_from_the_extension_or_from_language(
    server: ServiceProcess, tmp_path: Path
) -> None:
    c_program = write(tmp_path, "hello.c", '#include <stdio.h>\nint main(void){puts("from C");}\n')
    done = runakode(server, "run", str(c_program))
    assert (done.returncode, done.stdout) == (0, "from C\n"), done.stderr
    no_extension = write(tmp_path, "script", "print('told')\n")
    done = runakode(server, "run", "--language", "py", str(no_extension))
    assert (done.returncode, done.stdout) == (0, "told\n"), done.stderr
    done = runakode(server, "run", str(no_extension))
    assert done.returncode == 2
    assert "--language" in done.stderr


def test_a_compile_error_shows_the_compiler_and_fails(
    server: ServiceProcess, tmp_path: Path
) -> None:
    program = write(tmp_path, "broken.c", "int main(void) { return undeclared; }\n")
    done = runakode(server, "run", str(program))
    assert done.returncode == 1
    assert "undeclared" in done.stderr
    assert done.stderr.rstrip().endswith(
        "runakode: compile_error (see the compiler's messages above)"
    )


def test_a_timeout_is_reported(server: ServiceProcess, tmp_path: Path) -> None:
    program = write(tmp_path, "forever.py", "while True:\n    pass\n")
    done = runakode(server, "run", str(program))
    assert done.returncode != 0
    assert "runakode: timeout" in done.stderr


def test_output_is_streamed_and_stdin_goes_to_the_running_program(
    server: ServiceProcess, tmp_path: Path
) -> None:
    program = write(
        tmp_path,
        "ask.py",
        "print('ready', flush=True)\nline = input()\nprint('answer:', line)\n",
    )
    client = subprocess.Popen(
        [str(BIN / "runakode"), "run", str(program)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=client_env(server),
    )
    try:
        assert client.stdout is not None and client.stdin is not None
        # The first line arrives while the program still waits for its input.
        assert client.stdout.readline() == "ready\n"
        client.stdin.write("typed later\n")
        client.stdin.close()
        assert client.stdout.read() == "answer: typed later\n"
        assert client.wait(TIMEOUT_S) == 0
    finally:
        client.kill()
        client.wait()


def test_languages_lists_the_server_s_languages(server: ServiceProcess) -> None:
    done = runakode(server, "languages")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == ["python", "c"]
    assert "Python 3." in done.stdout


def test_without_the_key_the_client_says_so(server: ServiceProcess, tmp_path: Path) -> None:
    program = write(tmp_path, "hello.py", "print('hi')\n")
    for args in (("languages",), ("run", "--language", "python", str(program))):
        done = runakode(server, *args, token=None)
        assert done.returncode == 69, done
        assert "RUNAKODE_TOKEN" in done.stderr
    done = runakode(server, "languages", token="wrong")
    assert done.returncode == 69 and "RUNAKODE_TOKEN" in done.stderr


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNAKODE_")}
    done = subprocess.run(
        [str(BIN / "runakode"), "--url", f"http://127.0.0.1:{free_port()}", "languages"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 69
    assert done.stderr.startswith("runakode: cannot reach http://127.0.0.1:")
