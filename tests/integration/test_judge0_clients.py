"""Judge0's official Python SDK (PyPI judge0), unchanged, pointed at the real server: it reads
/config_info and /languages at start, then polls every submission with fields=*."""

from collections.abc import Iterator
from pathlib import Path

import judge0
import pytest
from harness import ServiceProcess, free_port, service_config

KEY = "sdk-test-key"


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[ServiceProcess]:
    config = service_config(
        port=free_port(),
        supportedLanguages=["python", "c", "java"],
        auth={"tokens": [KEY]},
        jobTimeout="5s",
    )
    service = ServiceProcess("runakode", config, workdir).start()
    service.wait_healthy()
    yield service
    assert service.stop() == 0, service.logs()


@pytest.fixture(scope="module")
def client(server: ServiceProcess) -> judge0.Client:
    return judge0.Client(server.url, headers={"X-Auth-Token": KEY})


def test_the_sdk_runs_a_program(client: judge0.Client) -> None:
    result = judge0.run(
        client=client, source_code="print(input()[::-1])", stdin="olleh", language=judge0.PYTHON
    )
    assert result.status == judge0.Status.ACCEPTED
    assert result.stdout == "hello\n"
    assert result.time is not None and result.memory is not None


def test_the_sdk_runs_test_cases_as_a_batch(client: judge0.Client) -> None:
    cases = [judge0.TestCase(input=str(n), expected_output=str(n * 3)) for n in range(6)]
    cases.append(judge0.TestCase(input="1", expected_output="4"))
    results = judge0.run(
        client=client, source_code="print(3 * int(input()))", language=71, test_cases=cases
    )
    assert [r.status for r in results] == [judge0.Status.ACCEPTED] * 6 + [
        judge0.Status.WRONG_ANSWER
    ]


def test_the_sdk_sees_compile_errors_and_c(client: judge0.Client) -> None:
    ok = judge0.run(
        client=client,
        source_code='#include <stdio.h>\nint main(){int x; scanf("%d",&x); printf("%d\\n", 2*x);}',
        stdin="21",
        language=judge0.C,
    )
    assert (ok.status, ok.stdout) == (judge0.Status.ACCEPTED, "42\n")
    broken = judge0.run(client=client, source_code="int main( {", language=judge0.C)
    assert broken.status == judge0.Status.COMPILATION_ERROR
    assert broken.compile_output and "error" in broken.compile_output


def test_java_fits_judge0s_default_memory_limit(client: judge0.Client) -> None:
    # A JVM maps 100+ MB of its own files: only its anonymous memory counts (128 MB default).
    source = (
        "public class Main { public static void main(String[] a) {"
        ' System.out.println("java " + new java.util.Scanner(System.in).next()); } }'
    )
    result = judge0.run(client=client, source_code=source, stdin="ok", language=judge0.JAVA)
    assert (result.status, result.stdout) == (judge0.Status.ACCEPTED, "java ok\n")
    assert result.memory is not None and 1_000 < result.memory < 128_000


def test_a_client_without_the_key_is_refused(server: ServiceProcess) -> None:
    with pytest.raises(Exception, match="Authentication failed"):
        judge0.Client(server.url)
