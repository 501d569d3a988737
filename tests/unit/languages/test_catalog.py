"""runakode.languages: name resolution, Java's main file, argv templates."""

import pytest

from runakode.languages import ALIASES, LANGUAGES, Language, java_main_file, resolve

# What clients may send; a change here is an API change.
EXPECTED_ALIASES = {
    "c": ("gcc",),
    "cpp": ("c++", "g++", "cplusplus"),
    "c-clang": ("clang",),
    "cpp-clang": ("clang++",),
    "objectivec": ("objective-c", "objc", "obj-c"),
    "d": ("gdc", "dlang"),
    "fortran": ("f90", "gfortran"),
    "assembly": ("asm", "nasm", "nasm64", "asm64"),
    "go": ("golang",),
    "rust": ("rs",),
    "haskell": ("hs", "ghc"),
    "ocaml": ("ml",),
    "pascal": ("freepascal", "fpc", "pp", "pas"),
    "cobol": ("cob", "gnucobol"),
    "nim": (),
    "crystal": ("cr",),
    "gprolog": ("gnu-prolog",),
    "iverilog": ("verilog", "vvp"),
    "java": ("java17",),
    "kotlin": ("kt",),
    "scala": ("sc",),
    "groovy": ("gvy",),
    "clojure": ("clj",),
    "csharp": ("c#", "cs", "mono", "mono-csharp", "mono-c#", "mono-cs"),
    "erlang": ("erl", "escript"),
    "elixir": ("exs",),
    "javascript": ("js", "node", "nodejs"),
    "typescript": ("ts", "tsc", "node-ts"),
    "coffeescript": ("coffee",),
    "python": ("python3", "py"),
    "ruby": ("rb",),
    "php": (),
    "bash": ("sh",),
    "dash": (),
    "perl": ("pl",),
    "lua": ("lua5.4",),
    "tcl": ("tclsh",),
    "awk": ("gawk",),
    "r": ("rscript",),
    "octave": ("matlab", "m"),
    "raku": ("rakudo", "perl6", "p6", "pl6"),
    "racket": ("rkt",),
    "commonlisp": ("lisp", "cl", "sbcl", "common-lisp"),
    "prolog": ("swipl", "swi-prolog", "plg"),
    "emacs": ("elisp", "el", "emacs-lisp"),
    "forth": ("gforth",),
    "sqlite3": ("sql", "sqlite"),
    "brainfuck": ("bf",),
    "plaintext": ("text", "plain", "txt"),
}


def test_the_known_languages_and_their_aliases() -> None:
    assert {name: language.aliases for name, language in LANGUAGES.items()} == EXPECTED_ALIASES


def test_no_alias_is_claimed_twice_or_shadows_a_name() -> None:
    every = [alias for aliases in EXPECTED_ALIASES.values() for alias in aliases]
    assert len(every) == len(set(every)) == len(ALIASES)
    assert not set(every) & set(LANGUAGES)


@pytest.mark.parametrize("name", list(LANGUAGES))
def test_resolve_canonical_names(name: str) -> None:
    assert resolve(name) is LANGUAGES[name]
    assert resolve(name.upper()) is LANGUAGES[name]
    assert resolve(f"  {name.title()}\t\n") is LANGUAGES[name]


@pytest.mark.parametrize(
    ("alias", "name"),
    [(alias, name) for name, aliases in EXPECTED_ALIASES.items() for alias in aliases],
)
def test_resolve_aliases(alias: str, name: str) -> None:
    assert resolve(alias) is LANGUAGES[name]
    assert resolve(alias.upper()) is LANGUAGES[name]
    assert resolve(f" {alias} ") is LANGUAGES[name]


@pytest.mark.parametrize(
    "name",
    ["", " ", "fsharp", "vb", "python 3", "python2", "pyth on", "ja va", "main.py", "PYTHON3.11"],
)
def test_resolve_unknown_is_none(name: str) -> None:
    assert resolve(name) is None


# --- Java's main file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "main_file"),
    [
        ("public class Solution { public static void main(String[] a) {} }", "Solution.java"),
        ("public final class Fast { public static void main(String[] a) {} }", "Fast.java"),
        ("public   class\n  Spaced { }", "Spaced.java"),
        ("import java.util.*;\n\npublic class Main {\n}\n", "Main.java"),
        # Not public: the class that holds main.
        ("class Runner {\n  public static void main(String[] args) {}\n}", "Runner.java"),
        # main in the second class, after a helper.
        (
            "class Helper {\n  static int one() { return 1; }\n}\n"
            "class Program {\n  public static void main(String[] args) {}\n}\n",
            "Program.java",
        ),
        # A public class wins over the class holding main.
        (
            "class Starter { public static void main(String[] a) {} }\npublic class Api {}",
            "Api.java",
        ),
        # No class at all, or no main anywhere.
        ("interface Nothing {}", "Main.java"),
        ("System.out.println(1);", "Main.java"),
        ("class Quiet { void run() {} }", "Main.java"),
        ("", "Main.java"),
    ],
)
def test_java_main_file(source: str, main_file: str) -> None:
    assert java_main_file(source) == main_file
    assert LANGUAGES["java"].main_file(source) == main_file


@pytest.mark.parametrize(
    ("source", "main_file"),
    [
        pytest.param(
            "import java.util.*;\n"
            "class Solution {\n"
            "    static class Pair { int a, b; }\n"
            "    public static void main(String[] args) {}\n"
            "}\n",
            "Solution.java",
            id="nested-class-before-main",
        ),
        pytest.param(
            "class Solution {\n"
            "    // reads the class roster from stdin\n"
            "    public static void main(String[] args) {}\n"
            "}\n",
            "Solution.java",
            id="word-class-in-comment",
        ),
        pytest.param(
            "class Runner {\n"
            "    public class Inner {}\n"
            "    public static void main(String[] args) {}\n"
            "}\n",
            "Runner.java",
            id="public-nested-class",
        ),
        pytest.param(
            "class Runner {\n    static public void main(String[] args) {}\n}\n",
            "Runner.java",
            id="static-public-main",
        ),
        pytest.param(
            "public sealed class Shape permits Square {}\n"
            "final class Square extends Shape {}\n"
            "class Runner { public static void main(String[] a) {} }\n",
            "Shape.java",
            id="public-sealed-class",
        ),
    ],
)
def test_java_main_file_hard_cases(source: str, main_file: str) -> None:
    assert java_main_file(source) == main_file


@pytest.mark.parametrize("name", sorted(set(LANGUAGES) - {"java", "scala"}))
def test_other_languages_use_their_fixed_source_file(name: str) -> None:
    language = LANGUAGES[name]
    assert language.main_file("public class Solution {}") == language.source_file
    # Kotlin's and C#'s as Judge0 names them (kotlinc makes MainKt of Main.kt).
    assert language.source_file.startswith(("main.", "Main.kt", "Main.cs"))


# --- argv templates ---------------------------------------------------------------------------


TEMPLATED = Language(
    name="demo",
    source_file="main.demo",
    compile=("democ", "{file}", "-o", "{stem}", "--name={stem}.out"),
    run=("demo-run", "{stem}", "--src={file}"),
)


def test_compile_argv_expands_file_and_stem() -> None:
    assert TEMPLATED.compile_argv("prog.demo") == (
        "democ",
        "prog.demo",
        "-o",
        "prog",
        "--name=prog.out",
    )


def test_run_argv_expands_then_appends_args() -> None:
    assert TEMPLATED.run_argv("prog.demo") == ("demo-run", "prog", "--src=prog.demo")
    assert TEMPLATED.run_argv("prog.demo", ("a", "two words", "")) == (
        "demo-run",
        "prog",
        "--src=prog.demo",
        "a",
        "two words",
        "",
    )


def test_args_are_not_expanded() -> None:
    argv = TEMPLATED.run_argv("prog.demo", ("{file}", "{stem}"))
    assert argv[-2:] == ("{file}", "{stem}")


@pytest.mark.parametrize(
    ("main_file", "stem"), [("a.b.demo", "a.b"), ("noext", "noext"), ("Main.java", "Main")]
)
def test_stem_drops_only_the_last_extension(main_file: str, stem: str) -> None:
    assert TEMPLATED.run_argv(main_file)[1] == stem


def test_no_compile_step() -> None:
    language = Language(name="demo", source_file="main.demo", run=("demo", "{file}"))
    assert language.compile_argv("main.demo") is None
    assert language.run_argv("main.demo", ("x",)) == ("demo", "main.demo", "x")


def test_real_language_argv() -> None:
    python, cpp, java, go = (LANGUAGES[name] for name in ("python", "cpp", "java", "go"))
    assert python.compile_argv("main.py") is None
    assert python.run_argv("main.py", ("-v",)) == ("python3", "main.py", "-v")
    cpp_compile = cpp.compile_argv("main.cpp")
    assert cpp_compile is not None and "main.cpp" in cpp_compile
    assert cpp.run_argv("main.cpp", ("1",)) == ("./main", "1")
    assert go.compile_argv("main.go") == ("runakode-go-build",)
    java_compile = java.compile_argv("Solution.java")
    assert java_compile is not None and java_compile[0] == "javac"
    assert java_compile[-1] == "Solution.java"
    run = java.run_argv("Solution.java", ("x", "y"))
    assert run[0] == "java"
    assert run[-5:] == ("-cp", ".", "Solution", "x", "y")
