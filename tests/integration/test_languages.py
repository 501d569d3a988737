import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config

from runakode.playground import HELLO_WORLD

ALL = ["python", "go", "c", "cpp", "javascript", "rust", "java", "ruby", "bash", "php"]


# Each language's hello world, the playground's (also run by test_language_programs.py).
HELLO = {name: HELLO_WORLD[name] for name in ALL}


@pytest.fixture(scope="module")
def polyglot(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=ALL,
        sandboxImages={name: f"{name}-runner" for name in ALL},
        sandboxPool={name: 1 for name in ALL},
        maxWorkers=2,
        jobTimeout="10s",
        compileTimeout="20s",
        jobMemory="512m",
    )
    with running("runakode", config, workdir) as service:
        service.wait_healthy()
        yield service


def post(service: ServiceProcess, body: dict[str, Any], path: str = "/api") -> httpx.Response:
    return httpx.post(f"{service.url}{path}", json=body, timeout=90)


def run(service: ServiceProcess, language: str, code: str, **extra: Any) -> dict[str, Any]:
    response = post(service, {"language": language, "source_code": code, **extra})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_python_threads_and_subprocesses(polyglot: ServiceProcess) -> None:
    # Every thread and child process starts with clone(2), which the sandbox's seccomp profile
    # filters (src/runakode/sandboxes/seccomp.py); go, java and javascript start threads anyway.
    code = (
        "import multiprocessing, subprocess, sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    print(sum(pool.map(lambda n: n * n, range(10))))\n"
        "child = [sys.executable, '-c', 'print(\"child\")']\n"
        "print(subprocess.run(child, capture_output=True, text=True).stdout, end='')\n"
        "print(subprocess.run('echo shell | tr a-z A-Z', shell=True, capture_output=True,\n"
        "                     text=True).stdout, end='')\n"
        "with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "    print(pool.map(abs, [-1, -2]))\n"
    )
    result = run(polyglot, "python", code)
    assert (result["status"], result["stdout"]) == ("ok", "285\nchild\nSHELL\n[1, 2]\n"), result


# Each starts a thread (or, where the language has none, a background job or a forked
# process), waits for it, then runs a child process through /bin/sh: both start with clone(2),
# which the seccomp profile filters for namespace flags only.
PARALLEL = {
    "python": (
        "import subprocess, threading\n"
        "t = threading.Thread(target=lambda: print('thread ok', flush=True))\n"
        "t.start(); t.join()\n"
        "print(subprocess.run(['sh', '-c', 'echo child ok'], capture_output=True,\n"
        "                     text=True).stdout, end='')\n"
    ),
    "go": (
        'package main\nimport ("fmt"; "os/exec"; "sync")\n'
        "func main() {\n  var wg sync.WaitGroup\n  wg.Add(1)\n"
        '  go func() { defer wg.Done(); fmt.Println("thread ok") }()\n  wg.Wait()\n'
        '  out, err := exec.Command("sh", "-c", "echo child ok").Output()\n'
        "  if err != nil { panic(err) }\n  fmt.Print(string(out))\n}\n"
    ),
    "c": (
        "#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        'static void *say(void *arg) { (void)arg; puts("thread ok"); return NULL; }\n'
        "int main(void) {\n  pthread_t t;\n  if (pthread_create(&t, NULL, say, NULL)) return 1;\n"
        '  pthread_join(t, NULL);\n  fflush(stdout);\n  return system("echo child ok");\n}\n'
    ),
    "cpp": (
        "#include <cstdio>\n#include <iostream>\n#include <thread>\nint main() {\n"
        '  std::thread t([] { std::cout << "thread ok" << std::endl; });\n  t.join();\n'
        '  FILE *child = popen("echo child ok", "r");\n  char line[64];\n'
        "  while (fgets(line, sizeof line, child)) std::cout << line;\n"
        "  return pclose(child);\n}\n"
    ),
    "javascript": (
        "const { Worker } = require('worker_threads');\n"
        "const { execSync } = require('child_process');\n"
        "const w = new Worker(\"require('worker_threads').parentPort.postMessage('thread ok')\","
        " { eval: true });\n"
        "w.on('message', (m) => {\n  console.log(m);\n"
        "  process.stdout.write(execSync('echo child ok').toString());\n});\n"
    ),
    "rust": (
        "use std::process::Command;\nfn main() {\n"
        '    std::thread::spawn(|| println!("thread ok")).join().unwrap();\n'
        '    let out = Command::new("sh").args(["-c", "echo child ok"]).output().unwrap();\n'
        '    print!("{}", String::from_utf8_lossy(&out.stdout));\n}\n'
    ),
    "java": (
        "public class Main {\n  public static void main(String[] args) throws Exception {\n"
        '    Thread t = new Thread(() -> System.out.println("thread ok"));\n'
        "    t.start();\n    t.join();\n"
        '    Process p = new ProcessBuilder("sh", "-c", "echo child ok").start();\n'
        "    System.out.print(new String(p.getInputStream().readAllBytes()));\n"
        "    System.exit(p.waitFor());\n  }\n}\n"
    ),
    "ruby": "Thread.new { puts 'thread ok' }.join\nprint `sh -c 'echo child ok'`\n",
    "bash": "( echo 'thread ok' ) &\nwait\nsh -c 'echo child ok'\n",
    "php": (
        "<?php\n$pid = pcntl_fork();\n"
        'if ($pid === 0) { echo "thread ok\\n"; exit(0); }\n'
        "pcntl_waitpid($pid, $status);\necho shell_exec('echo child ok');\n"
    ),
}


@pytest.mark.parametrize("language", ALL)
def test_threads_and_child_processes(polyglot: ServiceProcess, language: str) -> None:
    result = run(polyglot, language, PARALLEL[language])
    assert (result["status"], result["stdout"]) == ("ok", "thread ok\nchild ok\n"), result


def test_languages_endpoint_reads_versions_from_the_images(polyglot: ServiceProcess) -> None:
    listed = httpx.get(f"{polyglot.url}/api/languages", timeout=10).json()
    assert [entry["name"] for entry in listed] == ALL
    for entry in listed:
        assert entry["version"], entry
        assert isinstance(entry["aliases"], list)
    versions = {entry["name"]: entry["version"] for entry in listed}
    assert versions["python"].startswith("Python 3")
    assert "17" in versions["java"]


def test_args_files_and_aliases(polyglot: ServiceProcess) -> None:
    code = "import sys\nprint(sys.argv[1:], open('data/input.txt').read().strip())"
    result = run(
        polyglot,
        "Python3",
        code,
        args=["--flag", "two words", ""],
        files=[{"name": "data/input.txt", "content": "from a file\n"}],
    )
    assert result["stdout"] == "['--flag', 'two words', ''] from a file\n"
    assert result["language"] == "python"
    helper = run(
        polyglot,
        "js",
        'console.log(require("./lib.js").greet());',
        files=[{"name": "lib.js", "content": 'exports.greet = () => "from a module";'}],
    )
    assert helper["stdout"] == "from a module\n"


def test_limits_lower_the_deadline_and_memory(polyglot: ServiceProcess) -> None:
    started = time.monotonic()
    slow = run(
        polyglot,
        "python",
        'import time\nprint("before", flush=True)\ntime.sleep(30)',
        limits={"timeout_s": 1},
    )
    assert slow["status"] == "timeout" and slow["stdout"] == "before\n"
    assert time.monotonic() - started < 8
    hungry = run(
        polyglot,
        "python",
        "b = []\nwhile True:\n    b.append(bytearray(16 << 20))",
        limits={"memory_mb": 64},
    )
    assert hungry["status"] == "memory_limit", hungry
    chatty = run(polyglot, "python", 'print("x" * 5000)', limits={"output_max_bytes": 100})
    assert chatty["truncated"] and len(chatty["stdout"]) <= 100


def test_execute_endpoint_answers_terminal_output(polyglot: ServiceProcess) -> None:
    code = (
        'import sys\nprint("one", flush=True)\n'
        'print("two", file=sys.stderr, flush=True)\nprint("three")'
    )
    response = post(polyglot, {"language": "python3", "code": code}, path="/execute")
    assert response.status_code == 200, response.text
    assert response.json() == {"output": "one\ntwo\nthree\n"}
    bad = post(polyglot, {"language": "cobol", "code": "x"}, path="/execute")
    assert bad.status_code == 400 and bad.json()["error"]


def test_bad_files_and_limits_are_400(polyglot: ServiceProcess) -> None:
    base = {"language": "python", "source_code": "print(1)"}
    for extra in (
        {"files": [{"name": "", "content": "x"}]},
        {"files": [{"name": "/etc/passwd", "content": "x"}]},
        {"files": [{"name": "../up.txt", "content": "x"}]},
        {"files": [{"name": "a\u0000b", "content": "x"}]},
        {"files": [{"name": "a.txt", "content": "x"}, {"name": "a.txt", "content": "y"}]},
        {"files": [{"name": "main.py", "content": "x"}]},
        {"limits": {"timeout_s": 999}},
        {"limits": {"timeout_s": 0}},
        {"limits": {"memory_mb": -1}},
        {"limits": {"memory_mb": "64"}},
        {"args": ["a\u0000"]},
    ):
        response = post(polyglot, {**base, **extra})
        assert response.status_code == 400, (extra, response.text)
        assert response.json()["error"]


def test_languages_run_concurrently(polyglot: ServiceProcess) -> None:
    def hello(language: str) -> tuple[str, dict[str, Any]]:
        return language, run(polyglot, language, HELLO[language])

    with ThreadPoolExecutor(4) as pool:
        for language, result in pool.map(hello, ALL):
            assert (result["status"], result["stdout"]) == ("ok", "Hello, World!\n"), language
