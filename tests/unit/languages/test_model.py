"""languages.model: which files take part in a build, and the argv templates."""

import pytest

from runakode.languages import LANGUAGES, Language

MULTI = Language(
    name="multi",
    source_file="main.c",
    compile=("cc", "{options}", "-o", "{stem}", "{sources}", "-lm"),
    run=("./{stem}", "--others", "{others}"),
    extensions=(".c", ".cc"),
)


def test_sources_are_the_main_file_then_the_others_of_the_language_sorted() -> None:
    files = ["util.h", "zeta.c", "main.c", "alpha.cc", "notes.txt"]
    assert MULTI.compile_argv("main.c", ("-O2",), files) == (
        "cc",
        "-O2",
        "-o",
        "main",
        "main.c",
        "alpha.cc",
        "zeta.c",
        "-lm",
    )
    assert MULTI.run_argv("main.c", ("x",), files) == (
        "./main",
        "--others",
        "alpha.cc",
        "zeta.c",
        "x",
    )


def test_without_other_files_sources_is_the_main_file_alone() -> None:
    assert MULTI.compile_argv("main.c") == ("cc", "-o", "main", "main.c", "-lm")
    assert MULTI.run_argv("main.c") == ("./main", "--others")


def test_the_main_files_extension_is_the_default() -> None:
    language = Language(name="x", source_file="main.pas", run=("./main",))
    assert language.source_extensions == (".pas",)
    assert language.other_sources("main.pas", ["main.pas", "unit.pas", "unit.ppu"]) == ["unit.pas"]


def test_erlang_compiles_only_the_modules_beside_the_escript() -> None:
    erlang = LANGUAGES["erlang"]
    assert erlang.compile_argv("main.erl", (), ["main.erl"]) is None
    assert erlang.compile_argv("main.erl", (), ["main.erl", "b.erl", "a.erl", "x.txt"]) == (
        "erlc",
        "a.erl",
        "b.erl",
    )
    assert erlang.run_argv("main.erl") == ("escript", "main.erl")
    # escript takes the first line for a header, so the program starts on the second.
    assert erlang.source_prefix == b"\n"


def test_c_and_cpp_build_every_translation_unit() -> None:
    files = ["main.cpp", "lib.cpp", "lib.hpp", "more.cc"]
    argv = LANGUAGES["cpp"].compile_argv("main.cpp", (), files)
    assert argv is not None
    assert argv[argv.index("main") + 1 : argv.index("main") + 4] == (
        "main.cpp",
        "lib.cpp",
        "more.cc",
    )
    assert "lib.hpp" not in argv


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
