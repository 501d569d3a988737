import re

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


_SCALA_NOISE = re.compile(
    r'""".*?"""|//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])\'', re.DOTALL
)
_SCALA_OBJECT = re.compile(r"\bobject\s+([A-Za-z_$][\w$]*)([^{]*)")
_SCALA_APP = re.compile(r"\bextends\s+App\b")
_SCALA_MAIN = re.compile(r"\bdef\s+main\s*\(")


def scala_main_file(source: str) -> str:
    """X.scala for the top-level object the program starts from (one that `extends App` or
    has its own `def main`), so that it runs as `scala X`; Main.scala when there is none."""
    code = _SCALA_NOISE.sub(lambda match: " " * len(match.group()), source)
    depth, depths = 0, []
    for char in code:
        depths.append(depth)
        depth += {"{": 1, "}": -1}.get(char, 0)
    mains = [match.start() for match in _SCALA_MAIN.finditer(code) if depths[match.start()] == 1]
    for match in _SCALA_OBJECT.finditer(code):
        if depths[match.start()] != 0:
            continue
        if _SCALA_APP.search(match.group(2)):
            return f"{match.group(1)}.scala"
        body_start = match.end()
        body_end = next(
            (i for i in range(body_start + 1, len(code)) if depths[i] == 0 and code[i - 1] == "}"),
            len(code),
        )
        if any(body_start < main < body_end for main in mains):
            return f"{match.group(1)}.scala"
    return "Main.scala"
