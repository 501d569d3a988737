"""languages.catalog and languages.resolve: the languages served, their aliases, and how a
request's name finds one."""

from pathlib import Path

import pytest

from runakode.judge0.languages import JUDGE0_LANGUAGES
from runakode.languages import ALIASES, LANGUAGES, resolve
from runakode.piston.runtimes import PISTON_NAMES

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
    "llvm-ir": ("llvm", "llvm_ir", "ll"),
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


def test_at_least_forty_languages_each_with_its_image_recipe(repo_root: Path) -> None:
    assert len(LANGUAGES) >= 40
    for name in LANGUAGES:
        assert (repo_root / "sandbox" / "images" / name / "Dockerfile").is_file(), name


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
