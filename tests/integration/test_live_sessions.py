"""Live runs over the native WebSocket, against the real service: in one process (in-process
broker) and split into runakode-api and runakode-worker over the real RabbitMQ."""

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from harness import (
    ServiceProcess,
    free_port,
    running,
    sandboxes_of,
    service_config,
    split_deployment,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from live import LiveRun, live_run, ws_url

LANGUAGES = ["python", "javascript", "ruby", "php", "bash", "c", "cpp", "go", "rust", "java"]
API_KEY = "live-test-key"

# Each asks a name on stdout (no newline: the prompt must arrive before the program reads),
# reads one line, and greets.
GREETERS = {
    "python": 'name = input("name? ")\nprint(f"hello {name}")\n',
    "javascript": (
        "const rl = require('readline').createInterface({ input: process.stdin });\n"
        "process.stdout.write('name? ');\n"
        "rl.once('line', (name) => {\n"
        "  console.log(`hello ${name}`);\n"
        "  rl.close();\n"
        "  process.stdin.destroy(); // node, as on a terminal's pipe, would wait for its end\n"
        "});\n"
    ),
    "ruby": 'print "name? "\n$stdout.flush\nname = gets.chomp\nputs "hello #{name}"\n',
    "php": '<?php\necho "name? ";\n$name = trim(fgets(STDIN));\necho "hello $name\\n";\n',
    "bash": "printf 'name? '\nread -r name\necho \"hello $name\"\n",
    "c": (
        '#include <stdio.h>\nint main(void) {\n  char name[64];\n  printf("name? ");\n'
        '  fflush(stdout);\n  if (scanf("%63s", name) != 1) return 1;\n'
        '  printf("hello %s\\n", name);\n  return 0;\n}\n'
    ),
    "cpp": (
        "#include <iostream>\n#include <string>\nint main() {\n"
        '  std::cout << "name? " << std::flush;\n  std::string name;\n'
        '  std::getline(std::cin, name);\n  std::cout << "hello " << name << std::endl;\n}\n'
    ),
    "go": (
        'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\n'
        'func main() {\n\tfmt.Print("name? ")\n'
        "\tline, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n"
        '\tfmt.Printf("hello %s\\n", strings.TrimSpace(line))\n}\n'
    ),
    "rust": (
        "use std::io::{self, Write};\nfn main() {\n"
        '    print!("name? ");\n    io::stdout().flush().unwrap();\n'
        "    let mut name = String::new();\n    io::stdin().read_line(&mut name).unwrap();\n"
        '    println!("hello {}", name.trim());\n}\n'
    ),
    "java": (
        "import java.util.Scanner;\npublic class Main {\n"
        "  public static void main(String[] args) {\n"
        '    System.out.print("name? ");\n    System.out.flush();\n'
        "    String name = new Scanner(System.in).nextLine();\n"
        '    System.out.println("hello " + name);\n  }\n}\n'
    ),
}

LOOP = 'import time\nprint("ready", flush=True)\nwhile True:\n    time.sleep(0.05)\n'


def live_config(**overrides: Any) -> dict[str, Any]:
    return service_config(
        port=free_port(),
        supportedLanguages=LANGUAGES,
        sandboxPool={"python": 1},
        maxWorkers=4,
        jobTimeout="10s",
        compileTimeout="60s",
        apiTimeout="60s",
        outputMaxBytes=65536,
        auth={"tokens": [API_KEY]},
        **overrides,
    )


class Deployed:
    """Where to connect, and the process whose sandboxes run the sessions."""

    def __init__(self, api: ServiceProcess, sandbox_owner: ServiceProcess) -> None:
        self.api = api
        self.sandbox_owner = sandbox_owner

    def run(self, **request: Any) -> "contextlib.AbstractContextManager[LiveRun]":
        return live_run(self.api.url, API_KEY, **request)

    def sandboxes(self) -> set[str]:
        assert self.sandbox_owner.proc is not None
        return set(sandboxes_of(self.sandbox_owner.proc.pid))


@pytest.fixture(scope="module", params=["combined", "split"])
def deployed(workdir: Path, request: pytest.FixtureRequest) -> Iterator[Deployed]:
    if request.param == "combined":
        with running("runakode", live_config(), workdir) as service:
            service.wait_healthy()
            yield Deployed(service, service)
            assert service.stop() == 0, service.logs()
    else:
        config = live_config(broker="rabbitmq")
        with split_deployment(config, workdir, workers=1) as deployment:
            yield Deployed(deployment.api, deployment.workers[0])
            assert deployment.stop() == [0, 0], deployment.logs()


@pytest.mark.parametrize("language", LANGUAGES)
def test_prompt_then_typed_answer(deployed: Deployed, language: str) -> None:
    with deployed.run(language=language, source_code=GREETERS[language]) as run:
        # The prompt arrives while the program waits for input: it was streamed, not batched.
        run.until_output("name? ")
        assert "hello" not in run.stdout
        run.type("bob\n")
        result = run.finish()
    assert (result["status"], result["exit_code"]) == ("ok", 0), (run.frames, run.stderr)
    assert run.stdout == "name? hello bob\n"
    assert run.frames[0] == {"type": "started", "language": language, "version": result["version"]}
    stages = [frame["stage"] for frame in run.frames if frame["type"] == "stage"]
    compiled = language in ("c", "cpp", "go", "rust", "java")
    assert stages == (["compile", "run"] if compiled else ["run"])
    assert [exit["stage"] for exit in run.exits()] == stages
    assert run.exits()[-1]["exit_code"] == 0
    # Output already streamed is not sent again in the result.
    assert result["stdout"] == "" and result["stderr"] == ""


def test_stdin_given_up_front_and_closed_on_request(deployed: Deployed) -> None:
    source = "import sys\ndata = sys.stdin.read()\nprint(len(data), repr(data))\n"
    with deployed.run(language="python", source_code=source, stdin="abc") as run:
        run.type("def\n")
        run.type("ghé")
        run.send(type="close_stdin")
        result = run.finish()
    assert result["status"] == "ok"
    assert run.stdout == "10 'abcdef\\nghé'\n"


def test_a_signal_reaches_the_program(deployed: Deployed) -> None:
    with deployed.run(language="python", source_code=LOOP) as run:
        run.until_output("ready")
        run.send(type="signal", signal="SIGTERM")
        result = run.finish(timeout_s=10)
    (exit,) = run.exits()
    assert exit["signal"] == 15 and "exit_code" not in exit
    assert result["status"] == "runtime_error"


def test_a_program_handles_the_signal_it_is_sent(deployed: Deployed) -> None:
    source = (
        "#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n"
        "static volatile sig_atomic_t caught;\n"
        "static void on_int(int sig) { (void)sig; caught = 1; }\n"
        'int main(void) {\n  signal(SIGINT, on_int);\n  puts("ready");\n  fflush(stdout);\n'
        '  while (!caught) pause();\n  puts("caught SIGINT");\n  return 3;\n}\n'
    )
    with deployed.run(language="c", source_code=source) as run:
        run.until_output("ready")
        run.send(type="signal", signal=2)
        result = run.finish()
    assert run.stdout == "ready\ncaught SIGINT\n"
    assert (result["status"], result["exit_code"]) == ("runtime_error", 3)


def test_the_deadline_ends_a_waiting_program(deployed: Deployed) -> None:
    started = time.monotonic()
    with deployed.run(language="python", source_code=LOOP, limits={"timeout_s": 1}) as run:
        result = run.finish()
    assert result["status"] == "timeout"
    assert run.exits()[-1]["time_limit"] == "wall"
    assert time.monotonic() - started < 8


def test_an_output_flood_is_cut_at_the_cap(deployed: Deployed) -> None:
    source = 'while True:\n    print("x" * 999)\n'
    with deployed.run(
        language="python", source_code=source, limits={"output_max_bytes": 20000}
    ) as run:
        result = run.finish()
    assert result["status"] == "output_limit"
    assert run.exits()[-1]["output_limit"] == "stdout"
    assert len(run.stdout.encode()) == 20000


def test_a_vanished_client_ends_its_sandbox_within_a_second(deployed: Deployed) -> None:
    source = 'import time\nwhile True:\n    print("tick", flush=True)\n    time.sleep(0.2)\n'
    run_manager = deployed.run(language="python", source_code=source)
    run = run_manager.__enter__()
    run.until_output("tick")
    time.sleep(1.5)  # the pool has refilled: only the busy sandbox may go
    before = deployed.sandboxes()
    run.connection.close_socket()  # no closing handshake: the client just disappears
    vanished_at = time.monotonic()
    while not before - deployed.sandboxes() and time.monotonic() - vanished_at < 5:
        time.sleep(0.02)
    gone_after_s = time.monotonic() - vanished_at
    with contextlib.suppress(Exception):
        run_manager.__exit__(None, None, None)
    assert len(before - deployed.sandboxes()) == 1, "the vanished client's sandbox is still there"
    assert gone_after_s < 1.0


def test_ten_sessions_at_once(deployed: Deployed) -> None:
    def converse(n: int) -> tuple[str, str]:
        with deployed.run(language="python", source_code=GREETERS["python"]) as run:
            run.until_output("name? ")
            run.type(f"user{n}\n")
            result = run.finish()
        return result["status"], run.stdout

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(converse, range(10)))
    assert outcomes == [("ok", f"name? hello user{n}\n") for n in range(10)]


def test_a_bad_first_message_is_an_error_frame_and_a_policy_close(deployed: Deployed) -> None:
    with deployed.run(language="cobol", source_code="x") as run:
        frame = run.next()
        assert frame["type"] == "error" and "cobol" in frame["message"]
        with pytest.raises(ConnectionClosed) as closed:
            run.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_without_the_key_the_websocket_is_refused(deployed: Deployed) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(deployed.api.url, "/api/ws"), open_timeout=10).close()
    assert refused.value.response.status_code == 403
    with (
        pytest.raises(InvalidStatus),
        live_run(deployed.api.url, "wrong", language="python", source_code="print(1)"),
    ):
        pass
