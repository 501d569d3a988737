"""languages.main_files: a program's main file, named from its source as javac and scalac
expect it."""

import pytest

from runakode.languages import LANGUAGES, java_main_file, scala_main_file

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


# --- Scala's main file -------------------------------------------------------------------------


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
