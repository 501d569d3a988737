"""Piston's WebSocket /api/v2/connect against the real service, with a real WebSocket client:
prompt, answer, signals, deadlines, output floods, clients that vanish, many at once."""

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

LANGUAGES = ["python", "javascript", "ruby", "php", "bash", "c", "cpp", "go", "rust", "java"]
OUTPUT_MAX_BYTES = 4096
# What each language's program prints before it reads, and how it answers a name.
PROMPT = "name? "
PROGRAMS = {
    "python": 'name = input("name? ")\nprint(f"hello {name}")\n',
    "javascript": (
        "const rl = require('readline').createInterface({input: process.stdin});\n"
        "process.stdout.write('name? ');\n"
        # stdin stays open (as on Piston): let go of it, or node waits on it to the deadline.
        "rl.once('line', (name) => {\n"
        "  console.log(`hello ${name}`); rl.close(); process.stdin.destroy();\n"
        "});\n"
    ),
    "ruby": 'print "name? "\n$stdout.flush\nname = gets.chomp\nputs "hello #{name}"\n',
    "php": '<?php\necho "name? ";\n$name = trim(fgets(STDIN));\necho "hello $name\\n";\n',
    "bash": 'printf "name? "\nread -r name\necho "hello $name"\n',
    "c": (
        "#include <stdio.h>\n#include <string.h>\n"
        "int main(void) {\n"
        '  char name[64]; printf("name? "); fflush(stdout);\n'
        "  if (!fgets(name, sizeof name, stdin)) return 1;\n"
        '  name[strcspn(name, "\\n")] = 0; printf("hello %s\\n", name); return 0;\n'
        "}\n"
    ),
    "cpp": (
        "#include <iostream>\n#include <string>\n"
        "int main() {\n"
        '  std::cout << "name? " << std::flush; std::string name;\n'
        '  std::getline(std::cin, name); std::cout << "hello " << name << std::endl;\n'
        "}\n"
    ),
    "go": (
        'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\n'
        "func main() {\n"
        '\tfmt.Print("name? ")\n'
        "\tline, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n"
        '\tfmt.Printf("hello %s\\n", strings.TrimSpace(line))\n'
        "}\n"
    ),
    "rust": (
        "use std::io::{self, Write};\n"
        "fn main() {\n"
        '    print!("name? "); io::stdout().flush().unwrap();\n'
        "    let mut name = String::new(); io::stdin().read_line(&mut name).unwrap();\n"
        '    println!("hello {}", name.trim());\n'
        "}\n"
    ),
    "java": (
        "import java.io.*;\n"
        "public class Greeter {\n"
        "  public static void main(String[] args) throws IOException {\n"
        '    System.out.print("name? "); System.out.flush();\n'
        "    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));\n"
        '    System.out.println("hello " + in.readLine());\n'
        "  }\n"
        "}\n"
    ),
}
COMPILED = {"c", "cpp", "go", "rust", "java"}
# The first line of a program that then waits: the client knows it is running.
WAITING = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"


# The process whose sandboxes run a deployment's sessions, by the API's port.
SANDBOX_OWNERS: dict[int, ServiceProcess] = {}


@pytest.fixture(scope="module", params=["combined", "split"])
def piston(workdir: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """The API the clients talk to: in one process, or split from its worker over RabbitMQ."""
    config = service_config(
        port=free_port(),
        supportedLanguages=LANGUAGES,
        sandboxPool={name: 2 if name == "python" else 1 for name in LANGUAGES},
        maxWorkers=10,
        jobTimeout="10s",
        outputMaxBytes=OUTPUT_MAX_BYTES,
        apiTimeout="60s",
    )
    if request.param == "split":
        with split_deployment({**config, "broker": "rabbitmq"}, workdir, workers=1) as deployed:
            (worker,) = deployed.workers
            SANDBOX_OWNERS[deployed.api.port] = worker
            yield deployed.api
            assert deployed.stop() == [0, 0], deployed.logs()
            assert worker.proc is not None
            assert sandboxes_of(worker.proc.pid) == []
        return
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        SANDBOX_OWNERS[service.port] = service
        yield service
        assert service.stop() == 0, service.logs()
        assert service.proc is not None
        # No run outlives its session, and none is left when the service ends.
        assert sandboxes_of(service.proc.pid) == []


def init(language: str, code: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "init",
        "language": language,
        "version": "*",
        "files": [{"name": "program", "content": code}],
        **fields,
    }


@dataclass
class Transcript:
    frames: list[dict[str, Any]] = field(default_factory=list)
    code: int | None = None
    reason: str = ""

    def stdout(self) -> str:
        return "".join(f["data"] for f in self.frames if f.get("stream") == "stdout")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


async def receive(ws: ClientConnection, transcript: Transcript, timeout_s: float) -> bool:
    """One frame into the transcript; False once the server has closed."""
    try:
        text = await asyncio.wait_for(ws.recv(), timeout_s)
    except ConnectionClosed as closed:
        if closed.rcvd is not None:
            transcript.code, transcript.reason = closed.rcvd.code, closed.rcvd.reason
        return False
    transcript.frames.append(json.loads(text))
    return True


async def until(
    ws: ClientConnection, transcript: Transcript, text: str, timeout_s: float = 60
) -> None:
    """Read frames until the program's stdout holds the text."""
    deadline = time.monotonic() + timeout_s
    while text not in transcript.stdout():
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {text!r} in time: {transcript}"
        assert await receive(ws, transcript, remaining), f"closed before {text!r}: {transcript}"


async def until_closed(
    ws: ClientConnection, transcript: Transcript, timeout_s: float = 60
) -> Transcript:
    deadline = time.monotonic() + timeout_s
    while await receive(ws, transcript, max(0.1, deadline - time.monotonic())):
        pass
    return transcript


async def converse(service: ServiceProcess, language: str, name: str) -> Transcript:
    transcript = Transcript()
    async with connect(f"ws://127.0.0.1:{service.port}/api/v2/connect") as ws:
        await ws.send(json.dumps(init(language, PROGRAMS[language])))
        await until(ws, transcript, PROMPT)
        await ws.send(json.dumps({"type": "data", "stream": "stdin", "data": f"{name}\n"}))
        return await until_closed(ws, transcript)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_prompt_answer_in_every_language(piston: ServiceProcess, language: str) -> None:
    transcript = await converse(piston, language, "Ada")
    assert transcript.stdout() == f"{PROMPT}hello Ada\n", transcript
    runtime = transcript.frames[0]
    assert runtime["type"] == "runtime" and runtime["version"] != "0.0.0"
    stages = [f["stage"] for f in transcript.of_type("stage")]
    assert stages == (["compile", "run"] if language in COMPILED else ["run"])
    exits = transcript.of_type("exit")
    assert [(e["stage"], e["code"], e["signal"]) for e in exits][-1] == ("run", 0, None)
    assert (transcript.code, transcript.reason) == (4999, "Job Completed")


@pytest.mark.parametrize(
    ("language", "code", "signal"),
    [
        ("python", WAITING, "SIGTERM"),
        ("python", WAITING, "SIGKILL"),
        (
            "c",
            "#include <stdio.h>\n#include <unistd.h>\n"
            'int main(void){ puts("ready"); fflush(stdout); sleep(60); return 0; }\n',
            "SIGINT",
        ),
    ],
)
async def test_a_signal_ends_the_program(
    piston: ServiceProcess, language: str, code: str, signal: str
) -> None:
    transcript = Transcript()
    async with connect(f"ws://127.0.0.1:{piston.port}/api/v2/connect") as ws:
        await ws.send(json.dumps(init(language, code)))
        await until(ws, transcript, "ready")
        sent = time.monotonic()
        await ws.send(json.dumps({"type": "signal", "signal": signal}))
        await until_closed(ws, transcript, timeout_s=10)
    assert time.monotonic() - sent < 5
    exit_frame = transcript.of_type("exit")[-1]
    assert (exit_frame["stage"], exit_frame["code"], exit_frame["signal"]) == ("run", None, signal)
    assert transcript.code == 4999


async def test_the_run_has_its_deadline(piston: ServiceProcess) -> None:
    transcript = Transcript()
    async with connect(f"ws://127.0.0.1:{piston.port}/api/v2/connect") as ws:
        await ws.send(json.dumps(init("python", WAITING, run_timeout=1000)))
        await until(ws, transcript, "ready")
        started = time.monotonic()
        await until_closed(ws, transcript, timeout_s=20)
    assert time.monotonic() - started < 5
    exit_frame = transcript.of_type("exit")[-1]
    assert (exit_frame["code"], exit_frame["signal"]) == (None, "SIGKILL")
    assert transcript.code == 4999


async def test_an_output_flood_is_cut_off(piston: ServiceProcess) -> None:
    flood = "import sys\nwhile True: sys.stdout.write('x' * 1000)\n"
    transcript = Transcript()
    async with connect(f"ws://127.0.0.1:{piston.port}/api/v2/connect") as ws:
        await ws.send(json.dumps(init("python", flood)))
        await until_closed(ws, transcript, timeout_s=20)
    assert transcript.of_type("error") == [{"type": "error", "message": "stdout length exceeded"}]
    assert (transcript.code, transcript.reason) == (4002, "Notified Error")
    assert len(transcript.stdout()) <= OUTPUT_MAX_BYTES


async def test_a_vanished_client_ends_its_sandbox_within_a_second(
    piston: ServiceProcess,
) -> None:
    owner = SANDBOX_OWNERS[piston.port].proc
    assert owner is not None
    pid = owner.pid
    transcript = Transcript()
    ws = await connect(f"ws://127.0.0.1:{piston.port}/api/v2/connect")
    await ws.send(json.dumps(init("python", WAITING)))
    await until(ws, transcript, "ready")
    # The running sandbox is one of these; the others are idle ones, which stay.
    await asyncio.sleep(1.0)
    during = set(sandboxes_of(pid))
    # Gone without a word: the TCP connection just drops.
    ws.transport.abort()
    dropped = time.monotonic()
    while during <= set(sandboxes_of(pid)):
        assert time.monotonic() - dropped < 5, "the run's sandbox outlived its client"
        await asyncio.sleep(0.05)
    assert time.monotonic() - dropped < 1.0


async def test_ten_sessions_at_once(piston: ServiceProcess) -> None:
    names = [f"user{index}" for index in range(10)]
    transcripts = await asyncio.gather(*(converse(piston, "python", name) for name in names))
    for name, transcript in zip(names, transcripts, strict=True):
        assert transcript.stdout() == f"{PROMPT}hello {name}\n", transcript
        assert transcript.code == 4999


async def test_protocol_errors_close_with_pistons_codes(piston: ServiceProcess) -> None:
    url = f"ws://127.0.0.1:{piston.port}/api/v2/connect"
    cases: list[tuple[list[dict[str, Any]], int]] = [
        ([], 4001),
        ([{"type": "data", "stream": "stdin", "data": "x"}], 4003),
        ([init("python", "x", version="9.x")], 4002),
        ([init("python", WAITING), init("python", WAITING)], 4000),
        ([init("python", WAITING), {"type": "signal", "signal": "SIGNOPE"}], 4005),
        ([init("python", WAITING), {"type": "data", "stream": "stdout", "data": "x"}], 4004),
    ]
    for frames, code in cases:
        transcript = Transcript()
        async with connect(url) as ws:
            for frame in frames:
                await ws.send(json.dumps(frame))
            await until_closed(ws, transcript, timeout_s=20)
        assert transcript.code == code, (frames, transcript)
        if code == 4002:
            assert transcript.of_type("error") == [
                {"type": "error", "message": "python-9.x runtime is unknown"}
            ]
