"""Our languages as Piston's runtimes: its names, aliases and semver versions."""

from collections.abc import Mapping
from dataclasses import dataclass

from runakode.languages import LANGUAGES
from runakode.piston.semver import parse_version, satisfies, version_from_text

# Listed while no worker has announced a language's version yet (any range matches it then).
UNKNOWN_VERSION = "0.0.0"


@dataclass(frozen=True)
class _PistonName:
    language: str
    aliases: tuple[str, ...]
    # Piston's package, for the packages that hold several languages.
    runtime: str | None = None


# Piston's names and aliases (packages/*/*/metadata.json), ../shared/compat.md §3.2; node too.
# Languages Piston has no package for (clang, GNU Prolog, plain text) keep names of their own.
PISTON_NAMES: dict[str, _PistonName] = {
    "python": _PistonName("python", ("py", "py3", "python3")),
    "go": _PistonName("go", ("go", "golang")),
    "c": _PistonName("c", ("gcc",), "gcc"),
    "cpp": _PistonName("c++", ("cpp", "g++"), "gcc"),
    "javascript": _PistonName(
        "javascript", ("node-javascript", "node-js", "javascript", "js", "node"), "node"
    ),
    "rust": _PistonName("rust", ("rs",)),
    "java": _PistonName("java", ()),
    "ruby": _PistonName("ruby", ("ruby3", "rb")),
    "bash": _PistonName("bash", ("sh",)),
    "php": _PistonName("php", ("php8",)),
    "c-clang": _PistonName("c-clang", ("clang",)),
    "cpp-clang": _PistonName("c++-clang", ("clang++", "cpp-clang")),
    "objectivec": _PistonName("objective-c", ("objc", "obj-c", "objectivec")),
    "d": _PistonName("d", ("gdc",), "gcc"),
    "fortran": _PistonName("fortran", ("fortran", "f90"), "gcc"),
    # 64-bit only: gVisor runs no 32-bit code (Piston's "nasm" is elf32).
    "assembly": _PistonName("nasm64", ("asm64",), "nasm"),
    "llvm-ir": _PistonName("llvm_ir", ("llvm", "llvm-ir", "ll")),
    "haskell": _PistonName("haskell", ("haskell", "hs")),
    "ocaml": _PistonName("ocaml", ("ocaml", "ml")),
    "pascal": _PistonName("pascal", ("freepascal", "pp", "pas")),
    "cobol": _PistonName("cobol", ("cob",)),
    "nim": _PistonName("nim", ()),
    "crystal": _PistonName("crystal", ("crystal", "cr")),
    "gprolog": _PistonName("gprolog", ("gnu-prolog",)),
    "iverilog": _PistonName("iverilog", ("verilog", "vvp")),
    "kotlin": _PistonName("kotlin", ("kt",)),
    "scala": _PistonName("scala", ("sc",)),
    "groovy": _PistonName("groovy", ("groovy", "gvy")),
    "clojure": _PistonName("clojure", ("clojure", "clj")),
    "csharp": _PistonName(
        "csharp", ("mono", "mono-csharp", "mono-c#", "mono-cs", "c#", "cs"), "mono"
    ),
    "erlang": _PistonName("erlang", ("erlang", "erl", "escript")),
    "elixir": _PistonName("elixir", ("elixir", "exs")),
    "typescript": _PistonName("typescript", ("ts", "node-ts", "tsc")),
    "coffeescript": _PistonName("coffeescript", ("coffeescript", "coffee")),
    "dash": _PistonName("dash", ("dash",)),
    "perl": _PistonName("perl", ("pl",)),
    "lua": _PistonName("lua", ()),
    "tcl": _PistonName("tcl", ("tclsh",)),
    "awk": _PistonName("awk", ("gawk",), "gawk"),
    "r": _PistonName("rscript", ("r",)),
    "octave": _PistonName("octave", ("matlab", "m")),
    "raku": _PistonName("raku", ("raku", "rakudo", "perl6", "p6", "pl6")),
    "racket": _PistonName("racket", ("rkt",)),
    "commonlisp": _PistonName("lisp", ("lisp", "cl", "sbcl", "commonlisp")),
    "prolog": _PistonName("prolog", ("prolog", "plg")),
    "emacs": _PistonName("emacs", ("emacs", "el", "elisp")),
    "forth": _PistonName("forth", ("gforth",)),
    "sqlite3": _PistonName("sqlite3", ("sqlite", "sql")),
    "brainfuck": _PistonName("brainfuck", ("bf",)),
    "plaintext": _PistonName("plaintext", ("text", "txt")),
}


@dataclass(frozen=True)
class PistonRuntime:
    """One runtime as GET /api/v2/runtimes lists it, and the language of ours that runs it."""

    language: str
    version: str
    aliases: tuple[str, ...]
    runtime: str | None
    ours: str
    # No worker has said which version it runs: every version range matches.
    version_known: bool = True

    def listing(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "language": self.language,
            "version": self.version,
            "aliases": list(self.aliases),
        }
        if self.runtime is not None:
            entry["runtime"] = self.runtime
        return entry

    def names(self) -> set[str]:
        """What a request may call it: Piston's names, and ours too, in any case."""
        ours = LANGUAGES[self.ours]
        return {name.lower() for name in (self.language, *self.aliases, ours.name, *ours.aliases)}

    def matches(self, version_range: str) -> bool:
        return not self.version_known or satisfies(self.version, version_range)

    @property
    def compiled(self) -> bool:
        return LANGUAGES[self.ours].compile is not None


def piston_runtimes(
    supported: list[str], versions: Mapping[str, str | None]
) -> list[PistonRuntime]:
    """The runtimes this deployment serves, in its order of languages."""
    runtimes = []
    for name in supported:
        piston = PISTON_NAMES[name]
        text = versions.get(name)
        version = version_from_text(text) if text else None
        aliases = piston.aliases
        if name == "python" and version is not None:
            # Piston's python package also answers to python3.<minor>.
            aliases = (*aliases, "python" + ".".join(version.split(".")[:2]))
        runtimes.append(
            PistonRuntime(
                language=piston.language,
                version=version or UNKNOWN_VERSION,
                aliases=aliases,
                runtime=piston.runtime,
                ours=name,
                version_known=version is not None,
            )
        )
    return runtimes


def find_runtime(
    runtimes: list[PistonRuntime], language: str, version_range: str
) -> PistonRuntime | None:
    """Piston's choice: the highest version among the runtimes of that name (or alias) whose
    version satisfies the range."""
    name = language.strip().lower()
    matching = [rt for rt in runtimes if name in rt.names() and rt.matches(version_range)]
    if not matching:
        return None
    return max(matching, key=lambda rt: parse_version(rt.version))
