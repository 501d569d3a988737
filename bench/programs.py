"""The programs the bench runs, per language: the service's source and the baseline's command.

Compiled programs carry a fresh nonce in a comment, so that no compile cache (the service's,
or anything in an image) can have seen them before, unless a figure means to reuse one.
"""

import dataclasses
import uuid

HELLO_OUT = "hello\n"


@dataclasses.dataclass(frozen=True)
class Interpreted:
    """Hello world for the service (a source file) and for `docker run` (one command line)."""

    language: str
    source: str
    baseline_argv: tuple[str, ...]


HELLO: dict[str, Interpreted] = {
    hello.language: hello
    for hello in (
        Interpreted("python", 'print("hello")', ("python3", "-c", 'print("hello")')),
        Interpreted("javascript", 'console.log("hello")', ("node", "-e", 'console.log("hello")')),
        Interpreted("ruby", 'puts "hello"', ("ruby", "-e", 'puts "hello"')),
        Interpreted("php", '<?php echo "hello\\n";', ("php", "-r", 'echo "hello\\n";')),
    )
}
# Each latency target of the issue: p50 at most this share of the language's own baseline p50.
HELLO_LIMITS = {"python": 0.08, "javascript": 0.10, "ruby": 0.10, "php": 0.10}


@dataclasses.dataclass(frozen=True)
class Compiled:
    """A compiled hello world. The baseline writes the source from stdin into a tmpfs, compiles
    it with the same compiler and optimisation level as the service and runs it, in one
    `docker run` of the same image."""

    language: str
    body: str
    baseline_file: str
    baseline_compile: str

    def source(self, nonce: str | None = None) -> str:
        return f"// bench {nonce or new_nonce()}\n{self.body}"

    @property
    def baseline_argv(self) -> tuple[str, ...]:
        script = f"cat > /tmp/{self.baseline_file} && cd /tmp && {self.baseline_compile} && ./m"
        return ("sh", "-c", script)


CPP = Compiled(
    "cpp",
    '#include <bits/stdc++.h>\n\nint main() {\n    std::cout << "hello" << std::endl;\n}\n',
    "m.cpp",
    "g++ -O2 -std=gnu++17 -o m m.cpp",
)
RUST = Compiled(
    "rust", 'fn main() {\n    println!("hello");\n}\n', "m.rs", "rustc -O --edition 2021 -o m m.rs"
)
GO = Compiled(
    "go",
    'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello")\n}\n',
    "m.go",
    "go build -o m m.go",
)
COMPILED = {compiled.language: compiled for compiled in (CPP, RUST, GO)}

# Judge0's batch: one C++ source, each submission with its own stdin.
CPP_ECHO = (
    "#include <bits/stdc++.h>\n\n"
    "int main() {\n"
    "    std::string line;\n"
    "    std::getline(std::cin, line);\n"
    '    std::cout << "hello " << line << std::endl;\n'
    "}\n"
)
JUDGE0_CPP_ID = 54  # C++ (GCC 9.2.0) in Judge0 CE, the id clients hard-code
JUDGE0_PYTHON_ID = 71


def new_nonce() -> str:
    return uuid.uuid4().hex


def cpp_echo(nonce: str | None = None) -> str:
    return f"// bench {nonce or new_nonce()}\n{CPP_ECHO}"
