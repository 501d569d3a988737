from dataclasses import dataclass

from runakode.languages import LANGUAGES, Language


@dataclass(frozen=True)
class Judge0Language:
    """A language id as Judge0 CE names it, served by one of our runtimes."""

    id: int
    name: str
    runtime: str
    source_file: str

    @property
    def language(self) -> Language:
        return LANGUAGES[self.runtime]


# Every id of ../shared/compat.md §2.10, and every language of Judge0 CE v1.13.1 that Debian
# provides (../shared/languages.md; not Basic, Python 2, Swift, VB.NET, F#, Executable, or
# Multi-file program). The first id of each runtime is the CE id nearest to
# our version; the others are older or newer CE ids of the same language, accepted and listed
# because clients hard-code them (71, 50, 54, 62, 63 above all) and the official SDK refuses an
# id that GET /languages does not list. Names are CE's exact strings: clients match on them.
JUDGE0_LANGUAGES: dict[int, Judge0Language] = {
    entry.id: entry
    for entry in (
        Judge0Language(92, "Python (3.11.2)", "python", "script.py"),
        Judge0Language(71, "Python (3.8.1)", "python", "script.py"),
        Judge0Language(100, "Python (3.12.5)", "python", "script.py"),
        Judge0Language(109, "Python (3.13.2)", "python", "script.py"),
        Judge0Language(113, "Python (3.14.0)", "python", "script.py"),
        Judge0Language(95, "Go (1.18.5)", "go", "main.go"),
        Judge0Language(60, "Go (1.13.5)", "go", "main.go"),
        Judge0Language(106, "Go (1.22.0)", "go", "main.go"),
        Judge0Language(107, "Go (1.23.5)", "go", "main.go"),
        Judge0Language(103, "C (GCC 14.1.0)", "c", "main.c"),
        Judge0Language(48, "C (GCC 7.4.0)", "c", "main.c"),
        Judge0Language(49, "C (GCC 8.3.0)", "c", "main.c"),
        Judge0Language(50, "C (GCC 9.2.0)", "c", "main.c"),
        Judge0Language(105, "C++ (GCC 14.1.0)", "cpp", "main.cpp"),
        Judge0Language(52, "C++ (GCC 7.4.0)", "cpp", "main.cpp"),
        Judge0Language(53, "C++ (GCC 8.3.0)", "cpp", "main.cpp"),
        Judge0Language(54, "C++ (GCC 9.2.0)", "cpp", "main.cpp"),
        Judge0Language(93, "JavaScript (Node.js 18.15.0)", "javascript", "script.js"),
        Judge0Language(63, "JavaScript (Node.js 12.14.0)", "javascript", "script.js"),
        Judge0Language(97, "JavaScript (Node.js 20.17.0)", "javascript", "script.js"),
        Judge0Language(102, "JavaScript (Node.js 22.08.0)", "javascript", "script.js"),
        Judge0Language(73, "Rust (1.40.0)", "rust", "main.rs"),
        Judge0Language(108, "Rust (1.85.0)", "rust", "main.rs"),
        Judge0Language(91, "Java (JDK 17.0.6)", "java", "Main.java"),
        Judge0Language(62, "Java (OpenJDK 13.0.1)", "java", "Main.java"),
        Judge0Language(72, "Ruby (2.7.0)", "ruby", "script.rb"),
        Judge0Language(46, "Bash (5.0.0)", "bash", "script.sh"),
        Judge0Language(98, "PHP (8.3.11)", "php", "script.php"),
        Judge0Language(68, "PHP (7.4.1)", "php", "script.php"),
        Judge0Language(43, "Plain Text", "plaintext", "text.txt"),
        Judge0Language(45, "Assembly (NASM 2.14.02)", "assembly", "main.asm"),
        Judge0Language(51, "C# (Mono 6.6.0.161)", "csharp", "Main.cs"),
        Judge0Language(55, "Common Lisp (SBCL 2.0.0)", "commonlisp", "script.lisp"),
        Judge0Language(56, "D (DMD 2.089.1)", "d", "main.d"),
        Judge0Language(57, "Elixir (1.9.4)", "elixir", "script.exs"),
        Judge0Language(58, "Erlang (OTP 22.2)", "erlang", "main.erl"),
        Judge0Language(59, "Fortran (GFortran 9.2.0)", "fortran", "main.f90"),
        Judge0Language(61, "Haskell (GHC 8.8.1)", "haskell", "main.hs"),
        Judge0Language(64, "Lua (5.3.5)", "lua", "script.lua"),
        Judge0Language(65, "OCaml (4.09.0)", "ocaml", "main.ml"),
        Judge0Language(66, "Octave (5.1.0)", "octave", "script.m"),
        Judge0Language(67, "Pascal (FPC 3.0.4)", "pascal", "main.pas"),
        Judge0Language(69, "Prolog (GNU Prolog 1.4.5)", "gprolog", "main.pro"),
        Judge0Language(74, "TypeScript (3.7.4)", "typescript", "script.ts"),
        Judge0Language(75, "C (Clang 7.0.1)", "c-clang", "main.c"),
        Judge0Language(76, "C++ (Clang 7.0.1)", "cpp-clang", "main.cpp"),
        Judge0Language(77, "COBOL (GnuCOBOL 2.2)", "cobol", "main.cob"),
        Judge0Language(78, "Kotlin (1.3.70)", "kotlin", "Main.kt"),
        Judge0Language(79, "Objective-C (Clang 7.0.1)", "objectivec", "main.m"),
        Judge0Language(80, "R (4.0.0)", "r", "script.r"),
        Judge0Language(81, "Scala (2.13.2)", "scala", "Main.scala"),
        Judge0Language(82, "SQL (SQLite 3.27.2)", "sqlite3", "script.sql"),
        Judge0Language(85, "Perl (5.28.1)", "perl", "script.pl"),
        Judge0Language(86, "Clojure (1.10.1)", "clojure", "main.clj"),
        Judge0Language(88, "Groovy (3.0.3)", "groovy", "script.groovy"),
    )
}


def served(supported: list[str]) -> list[Judge0Language]:
    """The ids this deployment serves, sorted by name as Judge0 lists them."""
    return sorted(
        (entry for entry in JUDGE0_LANGUAGES.values() if entry.runtime in supported),
        key=lambda entry: entry.name,
    )
