"""`python -m bench.languages`: every language's hello world through the real service, one at a
time: p50 of 5 end-to-end latencies (each a new source, so each compiles: the compile cache
never answers), the p50 of its compile time apart, the image's version and size. Prints a
Markdown table (the README's language table) and writes it to bench/results/languages.md.

Hello-world programs are the playground's (src/runakode/playground/hello.toml), which the
per-language suite runs too.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.service import Service, free_port
from runakode.config import default_image
from runakode.languages import LANGUAGES
from runakode.playground import HELLO_WORLD

RESULTS = Path(__file__).resolve().parent / "results" / "languages.md"
RUNS = 5
TIMEOUT_S = 300.0
# Where the comment that makes each source new goes: line comments of the language, or a
# trailing blank line where a comment would change what the program prints.
COMMENTS = {
    **dict.fromkeys(("c", "cpp", "c-clang", "cpp-clang", "objectivec", "d", "go", "rust"), "//"),
    **dict.fromkeys(("java", "kotlin", "scala", "groovy", "csharp", "javascript"), "//"),
    **dict.fromkeys(("typescript",), "//"),
    **dict.fromkeys(("crystal", "nim", "python", "ruby", "perl", "r"), "#"),
    **dict.fromkeys(("bash", "dash", "tcl", "awk", "coffeescript", "raku", "elixir"), "#"),
    **dict.fromkeys(("php",), "//"),
    **dict.fromkeys(("haskell", "lua", "sqlite3"), "--"),
    **dict.fromkeys(("fortran",), "!"),
    **dict.fromkeys(("assembly", "llvm-ir", "commonlisp", "racket", "clojure", "emacs"), ";"),
    **dict.fromkeys(("erlang", "prolog", "gprolog", "octave"), "%"),
    **dict.fromkeys(("forth",), "\\"),
    **dict.fromkeys(("iverilog",), "//"),
}


def new_source(language: str, source: str, nonce: str) -> str:
    marker = COMMENTS.get(language)
    if marker is None:
        # No comment syntax used (Pascal, COBOL, OCaml, brainfuck, plain text): blank lines.
        return source + "\n" * (int(nonce) % 7 + 1)
    return f"{source.rstrip()}\n{marker} {nonce}\n"


def image_size_mb(image: str) -> float:
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out) / 1e6


def measure(client: httpx.Client, language: str, source: str) -> dict[str, Any]:
    totals, compiles = [], []
    for run in range(RUNS):
        body = {"language": language, "source_code": new_source(language, source, str(run))}
        started = time.monotonic()
        answer = client.post("/api", json=body).json()
        totals.append((time.monotonic() - started) * 1000)
        if answer.get("status") != "ok":
            return {"error": f"{answer.get('status')}: {answer.get('stderr', '')[:80]}"}
        if answer.get("compile"):
            compiles.append(answer["compile"]["exec_time_ms"])
    return {
        "version": answer.get("version"),
        "p50_ms": statistics.median(totals),
        "compile_p50_ms": statistics.median(compiles) if compiles else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.languages", description=__doc__)
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-languages-"))
    config = {
        "address": "127.0.0.1",
        "port": free_port(),
        "workerPort": 0,
        "rateLimit": {"requestsPerSecond": 0, "burst": 0},
        "apiTimeout": "300s",
    }
    service = Service(config, workdir, workdir / "service.log")
    lines = [
        "| language | version | image MB | hello p50 ms | of which compile p50 ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    try:
        service.start()
        service.wait_healthy()
        with httpx.Client(base_url=service.url, timeout=TIMEOUT_S) as client:
            for language in args.languages:
                result = measure(client, language, HELLO_WORLD[language])
                size = image_size_mb(default_image(language))
                if "error" in result:
                    line = f"| {language} | | {size:.0f} | {result['error']} | |"
                else:
                    compiled = result["compile_p50_ms"]
                    compile_ms = "" if compiled is None else f"{compiled:.0f}"
                    line = (
                        f"| {language} | {result['version']} | {size:.0f} | "
                        f"{result['p50_ms']:.0f} | {compile_ms} |"
                    )
                lines.append(line)
                print(line, flush=True)
    finally:
        service.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
