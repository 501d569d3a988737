import re
from collections.abc import Callable
from dataclasses import dataclass, field

_JAVA_NOISE = re.compile(
    r'""".*?"""|//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL
)
_JAVA_TYPE = re.compile(
    r"((?:\b(?:public|final|abstract|sealed|non-sealed|strictfp|static)\s+)*)"
    r"\b(?:class|interface|enum|record)\s+([A-Za-z_$][\w$]*)"
)
_JAVA_MAIN = re.compile(r"\bstatic\b[^;{}()=]*\bvoid\s+main\s*\(")


def java_main_file(source: str) -> str:
    """X.java for the top-level type javac requires it for (a public one), else for the
    top-level class holding `main`; so `public class Solution { ... }` runs unrenamed."""
    # Blank out comments and literals (keeping offsets), so only code is searched.
    code = _JAVA_NOISE.sub(lambda match: " " * len(match.group()), source)
    depth, depths = 0, []
    for char in code:
        depths.append(depth)
        depth += {"{": 1, "}": -1}.get(char, 0)
    top_level = [match for match in _JAVA_TYPE.finditer(code) if depths[match.start()] == 0]
    for match in top_level:
        if "public" in match.group(1).split():
            return f"{match.group(2)}.java"
    for main in _JAVA_MAIN.finditer(code):
        holders = [match for match in top_level if match.start() < main.start()]
        if holders:
            return f"{holders[-1].group(2)}.java"
    return "Main.java"


@dataclass(frozen=True)
class Language:
    """Everything the service knows about a language; its image recipe is
    sandbox/images/<name>/Dockerfile, which also records the version in /opt/runakode/version.

    In `compile` and `run`, "{file}" stands for the main source file and "{stem}" for its name
    without the extension; in `compile`, "{options}" for the client's compiler options (Judge0's
    compiler_options), zero or more words placed after ours so that they win.
    """

    name: str
    source_file: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    main_file_from_source: Callable[[str], str] | None = field(default=None, compare=False)
    # What its compile produces that its run needs (glob patterns in the work directory; "*"
    # also matches "/"): a compile cache keeps these and runs them again without compiling.
    artifacts: tuple[str, ...] = ()
    # Its interpreter is started in each idle sandbox ahead of the job (its start under
    # gVisor costs 15-300 ms), with `prelude` written ahead of the source (see Prestart).
    prestart: bool = False
    prestart_prelude: bytes = b""

    def main_file(self, source: str) -> str:
        if self.main_file_from_source is not None:
            return self.main_file_from_source(source)
        return self.source_file

    def compile_argv(self, main_file: str, options: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        return _expand(self.compile, main_file, options) if self.compile else None

    def run_argv(self, main_file: str, args: tuple[str, ...] = ()) -> tuple[str, ...]:
        return (*_expand(self.run, main_file), *args)


def _expand(
    template: tuple[str, ...], main_file: str, options: tuple[str, ...] = ()
) -> tuple[str, ...]:
    stem = main_file.rsplit(".", 1)[0]
    expanded: list[str] = []
    for part in template:
        if part == "{options}":
            expanded.extend(options)
        else:
            expanded.append(part.replace("{file}", main_file).replace("{stem}", stem))
    return tuple(expanded)


# JVMs under gVisor: few threads (the sandbox allows 64 tasks; gVisor shows the host's CPU
# count, which would size thread pools past it) and no perf-data file.
_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:ActiveProcessorCount=2",
)
# The program's heap fills to an OutOfMemoryError before the sandbox's limit kills the JVM.
_JAVA_FLAGS = (*_JVM_FLAGS, "-XX:MaxRAMPercentage=70", "-Xss8m")
# javac starts from a class archive built into the image (0.8 s instead of 1.3 s here).
_JAVAC_FLAGS = tuple(
    f"-J{flag}" for flag in (*_JVM_FLAGS, "-XX:SharedArchiveFile=/opt/runakode/javac.jsa")
)

# Linking takes most of rustc's time for a small program (hello world under gVisor: 1.9-3.1 s,
# 0.5-0.7 s with these): gold instead of ld.bfd, and no debug info of std written into the
# binary (11.6 MB -> 0.45 MB; panics keep their messages and locations).
_RUSTC_LINK = ("-C", "link-arg=-fuse-ld=gold", "-C", "strip=debuginfo")

# Under gVisor every process and temporary file costs: gcc pipes its stages instead of writing
# temporary files, and links with gold (C++ hello world with bits/stdc++.h: 0.81-0.98 s ->
# 0.68-0.74 s here). Neither changes the program, nor the precompiled header's use.
_GCC_FAST = ("-pipe", "-fuse-ld=gold")

LANGUAGES: dict[str, Language] = {
    language.name: language
    for language in (
        Language(
            name="python",
            source_file="main.py",
            run=("python3", "{file}"),
            aliases=("python3", "py"),
            prestart=True,
        ),
        Language(
            name="go",
            source_file="main.go",
            compile=("runakode-go-build", "{options}"),
            run=("./main",),
            artifacts=("main",),
            aliases=("golang",),
        ),
        Language(
            name="c",
            source_file="main.c",
            compile=(
                "gcc",
                "-O2",
                "-std=gnu17",
                *_GCC_FAST,
                "{options}",
                "-o",
                "main",
                "{file}",
                "-lm",
            ),
            run=("./main",),
            artifacts=("main",),
            aliases=("gcc",),
        ),
        Language(
            name="cpp",
            source_file="main.cpp",
            compile=("g++", "-O2", "-std=gnu++17", *_GCC_FAST, "{options}", "-o", "main", "{file}"),
            run=("./main",),
            artifacts=("main",),
            aliases=("c++", "g++", "cplusplus"),
        ),
        Language(
            name="javascript",
            source_file="main.js",
            run=("node", "{file}"),
            aliases=("js", "node", "nodejs"),
            prestart=True,
        ),
        Language(
            name="rust",
            source_file="main.rs",
            compile=(
                "rustc",
                "-O",
                "--edition",
                "2021",
                *_RUSTC_LINK,
                "{options}",
                "-o",
                "main",
                "{file}",
            ),
            run=("./main",),
            artifacts=("main",),
            aliases=("rs",),
        ),
        Language(
            name="java",
            source_file="Main.java",
            compile=("javac", *_JAVAC_FLAGS, "{options}", "{file}"),
            run=("java", *_JAVA_FLAGS, "-cp", ".", "{stem}"),
            artifacts=("*.class",),
            aliases=("java17",),
            main_file_from_source=java_main_file,
        ),
        Language(
            name="ruby",
            source_file="main.rb",
            run=("ruby", "{file}"),
            aliases=("rb",),
            prestart=True,
            # Ruby reads its script's first bytes before it loads its gems (~200 ms of its
            # ~280 ms start here); after a byte-order mark it loads them, then blocks.
            prestart_prelude=b"\xef\xbb\xbf",
        ),
        Language(
            name="bash",
            source_file="main.sh",
            run=("bash", "{file}"),
            aliases=("sh",),
            prestart=True,
        ),
        Language(name="php", source_file="main.php", run=("php", "{file}"), prestart=True),
    )
}

ALIASES: dict[str, str] = {
    alias: language.name for language in LANGUAGES.values() for alias in language.aliases
}


def resolve(name: str) -> Language | None:
    """The language a request names, by its name or an alias, ignoring case and spaces."""
    key = name.strip().lower()
    return LANGUAGES.get(ALIASES.get(key, key))
