"""runakode.languages.model: which files take part in a build, and the argv templates."""

from pathlib import Path

import pytest

from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.languages import LANGUAGES, Language, scala_main_file
from runakode.piston.runtimes import PISTON_NAMES

ROOT = Path(__file__).resolve().parents[3]

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


@pytest.mark.parametrize(
    ("source", "main_file"),
    [
        ("object Hello extends App {\n  println(1)\n}\n", "Hello.scala"),
        (
            "// object Fake { def main(a: Array[String]) = () }\n"
            "object Util { def twice(x: Int) = 2 * x }\n"
            "object Prog {\n  def main(args: Array[String]): Unit = println(Util.twice(2))\n}\n",
            "Prog.scala",
        ),
        ('object Quoted { val s = "def main(" }\nobject Real extends App {}\n', "Real.scala"),
        ("println(1)\n", "Main.scala"),
        # Nested objects do not count: the program starts from a top-level one.
        ("object Outer {\n  object Inner extends App {}\n}\n", "Main.scala"),
    ],
)
def test_scala_main_file_is_the_object_the_program_starts_from(source: str, main_file: str) -> None:
    assert scala_main_file(source) == main_file


def test_at_least_forty_languages_each_with_its_image_recipe() -> None:
    assert len(LANGUAGES) >= 40
    for name in LANGUAGES:
        assert (ROOT / "sandbox" / "images" / name / "Dockerfile").is_file(), name


def test_every_judge0_id_is_a_language_of_ours_and_every_language_has_a_piston_name() -> None:
    assert {entry.runtime for entry in JUDGE0_LANGUAGES.values()} <= set(LANGUAGES)
    assert set(PISTON_NAMES) == set(LANGUAGES)
    # Judge0 CE v1.13.1's languages Debian provides (../shared/languages.md), by id.
    ce_ids = {43, 45, 46, *range(48, 70), *range(71, 83), 85, 86, 88} - {70}
    assert ce_ids <= set(JUDGE0_LANGUAGES)


def test_compile_deadlines_fit_the_toolchain() -> None:
    compiled = {name: lang for name, lang in LANGUAGES.items() if lang.compile is not None}
    assert compiled["c"].compile_timeout_s < compiled["rust"].compile_timeout_s
    assert compiled["scala"].compile_timeout_s >= 60 and compiled["kotlin"].compile_timeout_s >= 60
    assert all(lang.compile_timeout_s > 0 for lang in compiled.values())
