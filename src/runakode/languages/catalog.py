"""Every language runakode serves: how it compiles and runs in its image
(sandbox/images/<name>/), its names, and which of its files take part in a build."""

from runakode.languages.main_files import java_main_file, scala_main_file
from runakode.languages.model import Language

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

_C_FLAGS = ("-O2", "-std=gnu17", *_GCC_FAST)
# What C and C++ programs link with: libm, and GMP (big numbers) when they use it.
_C_LIBS = ("-Wl,--as-needed", "-lgmp", "-lm")
_CPP_LIBS = ("-Wl,--as-needed", "-lgmpxx", "-lgmp", "-lm")
_CPP_FLAGS = ("-O2", "-std=gnu++17", *_GCC_FAST)
# C++ translation units, by the extensions gcc and clang take as C++.
_CPP_EXTENSIONS = (".cpp", ".cc", ".cxx", ".c++", ".C")
_JVM_COMPILE_TIMEOUT_S = 90.0
_SCALA_COMPILER_CLASSPATH = ":".join(
    f"/usr/share/scala/lib/{jar}.jar"
    for jar in ("scala-compiler", "scala-library", "scala-reflect")
)

_ALL: tuple[Language, ...] = (
    # --- the C family -----------------------------------------------------------------------
    Language(
        name="c",
        source_file="main.c",
        compile=("gcc", *_C_FLAGS, "{options}", "-o", "main", "{sources}", *_C_LIBS),
        run=("./main",),
        artifacts=("main",),
        aliases=("gcc",),
    ),
    Language(
        name="cpp",
        source_file="main.cpp",
        compile=("g++", *_CPP_FLAGS, "{options}", "-o", "main", "{sources}", *_CPP_LIBS),
        run=("./main",),
        extensions=_CPP_EXTENSIONS,
        artifacts=("main",),
        aliases=("c++", "g++", "cplusplus"),
        compile_timeout_s=20.0,
    ),
    Language(
        name="c-clang",
        source_file="main.c",
        compile=("clang", "-O2", "-std=gnu17", "{options}", "-o", "main", "{sources}", *_C_LIBS),
        run=("./main",),
        artifacts=("main",),
        aliases=("clang",),
    ),
    Language(
        name="cpp-clang",
        source_file="main.cpp",
        compile=(
            "clang++",
            "-O2",
            "-std=gnu++17",
            "{options}",
            "-o",
            "main",
            "{sources}",
            *_CPP_LIBS,
        ),
        run=("./main",),
        extensions=_CPP_EXTENSIONS,
        artifacts=("main",),
        aliases=("clang++",),
        compile_timeout_s=30.0,
    ),
    Language(
        name="objectivec",
        source_file="main.m",
        compile=("runakode-objc-build", "{options}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("objective-c", "objc", "obj-c"),
        compile_timeout_s=20.0,
    ),
    Language(
        name="d",
        source_file="main.d",
        compile=("gdc", "-O2", "{options}", "-o", "main", "{sources}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("gdc", "dlang"),
        compile_timeout_s=30.0,
    ),
    Language(
        name="fortran",
        source_file="main.f90",
        # Modules before the program that uses them.
        compile=("gfortran", "-O2", "{options}", "-o", "main", "{others}", "{file}"),
        run=("./main",),
        extensions=(".f90", ".f95", ".f03", ".f08", ".f", ".for"),
        artifacts=("main",),
        aliases=("f90", "gfortran"),
    ),
    Language(
        name="assembly",
        source_file="main.asm",
        compile=("runakode-nasm-build", "{options}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("asm", "nasm", "nasm64", "asm64"),
    ),
    Language(
        name="llvm-ir",
        source_file="main.ll",
        # lli JIT-compiles and runs main(); invalid IR is its error, at run time. lli takes
        # everything after the main module for the program's arguments, so runakode-lli puts
        # each other .ll file before it as -extra-module=FILE ("--" ends them).
        run=("runakode-lli", "{others}", "--", "{file}"),
        aliases=("llvm", "llvm_ir", "ll"),
    ),
    # --- compiled to native code -----------------------------------------------------------
    Language(
        name="go",
        source_file="main.go",
        compile=("runakode-go-build", "{options}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("golang",),
        compile_timeout_s=20.0,
    ),
    Language(
        name="rust",
        source_file="main.rs",
        # Modules (`mod x;`) are found beside the crate root.
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
        compile_timeout_s=45.0,
    ),
    Language(
        name="haskell",
        source_file="main.hs",
        # ghc --make finds the imported modules beside the main file.
        compile=("ghc", "-O", "{options}", "-o", "main", "{file}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("hs", "ghc"),
        compile_timeout_s=60.0,
    ),
    Language(
        name="ocaml",
        source_file="main.ml",
        compile=("runakode-ocaml-build", "{options}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("ml",),
        compile_timeout_s=30.0,
    ),
    Language(
        name="pascal",
        source_file="main.pas",
        # Units are found beside the program.
        compile=("fpc", "-O2", "-v0ew", "{options}", "-omain", "{file}"),
        run=("./main",),
        extensions=(".pas", ".pp"),
        artifacts=("main",),
        aliases=("freepascal", "fpc", "pp", "pas"),
    ),
    Language(
        name="cobol",
        source_file="main.cob",
        # Free format, as Judge0 and Piston compile it; the first file is the main program.
        compile=("cobc", "-x", "-free", "{options}", "-o", "main", "{sources}"),
        run=("./main",),
        extensions=(".cob", ".cbl"),
        artifacts=("main",),
        aliases=("cob", "gnucobol"),
        compile_timeout_s=20.0,
    ),
    Language(
        name="nim",
        source_file="main.nim",
        compile=(
            "nim",
            "compile",
            "--hints:off",
            "--nimcache:/tmp/nimcache",
            "-d:release",
            "{options}",
            "-o:main",
            "{file}",
        ),
        run=("./main",),
        artifacts=("main",),
        compile_timeout_s=60.0,
    ),
    Language(
        name="crystal",
        source_file="main.cr",
        compile=("crystal", "build", "{options}", "-o", "main", "{file}"),
        run=("./main",),
        artifacts=("main",),
        aliases=("cr",),
        compile_timeout_s=90.0,
    ),
    Language(
        name="gprolog",
        source_file="main.pro",
        compile=("gplc", "--no-top-level", "{options}", "-o", "main", "{sources}"),
        run=("./main",),
        extensions=(".pro", ".pl"),
        artifacts=("main",),
        aliases=("gnu-prolog",),
        compile_timeout_s=20.0,
    ),
    Language(
        name="iverilog",
        source_file="main.v",
        compile=("iverilog", "{options}", "-o", "main", "{sources}"),
        run=("vvp", "-n", "main"),
        artifacts=("main",),
        aliases=("verilog", "vvp"),
    ),
    # --- on a virtual machine ---------------------------------------------------------------
    Language(
        name="java",
        source_file="Main.java",
        compile=("javac", *_JAVAC_FLAGS, "{options}", "{sources}"),
        run=("java", *_JAVA_FLAGS, "-cp", ".", "{stem}"),
        artifacts=("*.class",),
        aliases=("java17",),
        main_file_from_source=java_main_file,
        compile_timeout_s=30.0,
    ),
    Language(
        name="kotlin",
        # kotlinc names the class of Main.kt's top-level functions MainKt.
        source_file="Main.kt",
        compile=("kotlinc", "-nowarn", "{options}", "-d", ".", "{sources}"),
        run=("java", *_JAVA_FLAGS, "-cp", "/usr/share/java/kotlin-stdlib.jar:.", "{stem}Kt"),
        extensions=(".kt",),
        artifacts=("*.class", "META-INF/*"),
        aliases=("kt",),
        compile_timeout_s=_JVM_COMPILE_TIMEOUT_S,
    ),
    Language(
        name="scala",
        source_file="Main.scala",
        # The compiler's main class on the JVM, from the class archive built into the image.
        compile=(
            "java",
            "-Xmx512m",
            "-XX:SharedArchiveFile=/opt/runakode/scalac.jsa",
            "-cp",
            _SCALA_COMPILER_CLASSPATH,
            "-Dscala.usejavacp=true",
            "scala.tools.nsc.Main",
            "-nowarn",
            "{options}",
            "-d",
            ".",
            "{sources}",
        ),
        run=("java", *_JAVA_FLAGS, "-cp", "/usr/share/scala/lib/scala-library.jar:.", "{stem}"),
        artifacts=("*.class",),
        aliases=("sc",),
        main_file_from_source=scala_main_file,
        compile_timeout_s=_JVM_COMPILE_TIMEOUT_S,
    ),
    Language(
        name="groovy",
        source_file="main.groovy",
        # Groovy's own launcher script cannot run under gVisor (it resolves itself with
        # `ls -ld`, which gets EINVAL there): its main class, on the JVM directly. Classes of
        # the other files are found beside the script.
        run=("java", "-cp", "/usr/share/groovy/lib/*:.", "groovy.ui.GroovyMain", "{file}"),
        aliases=("gvy",),
    ),
    Language(
        name="clojure",
        source_file="main.clj",
        run=("clojure", "{file}"),
        aliases=("clj",),
        prestart=True,
    ),
    Language(
        name="csharp",
        source_file="Main.cs",
        compile=("mcs", "-optimize+", "{options}", "-out:main.exe", "{sources}"),
        run=("mono", "main.exe"),
        artifacts=("main.exe",),
        aliases=("c#", "cs", "mono", "mono-csharp", "mono-c#", "mono-cs"),
        compile_timeout_s=20.0,
    ),
    Language(
        name="erlang",
        source_file="main.erl",
        # escript runs the main file as it is; modules beside it are compiled first.
        compile=("erlc", "{options}", "{others}"),
        compile_only_with_others=True,
        run=("escript", "{file}"),
        source_prefix=b"\n",
        artifacts=("*.beam",),
        aliases=("erl", "escript"),
        compile_timeout_s=20.0,
        prestart=True,
    ),
    Language(
        name="elixir",
        source_file="main.exs",
        run=("elixir", "{file}"),
        aliases=("exs",),
        prestart=True,
    ),
    # --- JavaScript and languages compiled to it --------------------------------------------
    Language(
        name="javascript",
        source_file="main.js",
        run=("node", "{file}"),
        aliases=("js", "node", "nodejs"),
        prestart=True,
    ),
    Language(
        name="typescript",
        source_file="main.ts",
        compile=("runakode-tsc", "{options}", "{sources}"),
        run=("node", "{stem}.js"),
        artifacts=("*.js",),
        aliases=("ts", "tsc", "node-ts"),
        compile_timeout_s=45.0,
    ),
    Language(
        name="coffeescript",
        source_file="main.coffee",
        run=("coffee", "{file}"),
        aliases=("coffee",),
        prestart=True,
    ),
    # --- interpreted --------------------------------------------------------------------------
    Language(
        name="python",
        source_file="main.py",
        run=("python3", "{file}"),
        aliases=("python3", "py"),
        prestart=True,
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
    Language(name="php", source_file="main.php", run=("php", "{file}"), prestart=True),
    Language(
        name="bash",
        source_file="main.sh",
        run=("bash", "{file}"),
        aliases=("sh",),
        prestart=True,
    ),
    Language(name="dash", source_file="main.sh", run=("dash", "{file}")),
    Language(name="perl", source_file="main.pl", run=("perl", "{file}"), aliases=("pl",)),
    Language(name="lua", source_file="main.lua", run=("lua5.4", "{file}"), aliases=("lua5.4",)),
    Language(name="tcl", source_file="main.tcl", run=("tclsh", "{file}"), aliases=("tclsh",)),
    Language(
        name="awk",
        source_file="main.awk",
        # Other files come in with gawk's @include.
        run=("gawk", "-f", "{file}"),
        aliases=("gawk",),
    ),
    Language(
        name="r",
        source_file="main.r",
        run=("Rscript", "{file}"),
        extensions=(".r", ".R"),
        aliases=("rscript",),
        prestart=True,
    ),
    Language(
        name="octave",
        source_file="main.m",
        run=("octave-cli", "--quiet", "--no-history", "--no-init-file", "{file}"),
        aliases=("matlab", "m"),
        prestart=True,
    ),
    Language(
        name="raku",
        source_file="main.raku",
        run=("raku", "-I.", "{file}"),
        extensions=(".raku", ".rakumod", ".pm6"),
        aliases=("rakudo", "perl6", "p6", "pl6"),
        prestart=True,
    ),
    Language(
        name="racket",
        source_file="main.rkt",
        run=("racket", "{file}"),
        aliases=("rkt",),
        prestart=True,
    ),
    Language(
        name="commonlisp",
        source_file="main.lisp",
        run=("sbcl", "--script", "{file}"),
        aliases=("lisp", "cl", "sbcl", "common-lisp"),
    ),
    Language(
        name="prolog",
        source_file="main.pl",
        # As Piston runs it: the program's directives run as it loads (initialization(main)
        # among them), then swipl halts instead of starting its interactive top level.
        run=("swipl", "-g", "true", "-t", "halt", "{file}"),
        extensions=(".pl", ".pro"),
        aliases=("swipl", "swi-prolog", "plg"),
    ),
    Language(
        name="emacs",
        source_file="main.el",
        run=("emacs", "-Q", "--script", "{file}"),
        aliases=("elisp", "el", "emacs-lisp"),
        prestart=True,
    ),
    Language(
        name="forth",
        source_file="main.fs",
        run=("gforth", "{file}", "-e", "bye"),
        aliases=("gforth",),
    ),
    Language(
        name="sqlite3",
        source_file="main.sql",
        # One in-memory database, the file's statements in it; the job's stdin stays the
        # program's (readfile('/dev/stdin') reads it).
        run=("sqlite3", "-bail", ":memory:", ".read {file}"),
        aliases=("sql", "sqlite"),
    ),
    Language(name="brainfuck", source_file="main.bf", run=("beef", "{file}"), aliases=("bf",)),
    Language(
        name="plaintext",
        source_file="main.txt",
        run=("cat", "{file}"),
        aliases=("text", "plain", "txt"),
    ),
)

LANGUAGES: dict[str, Language] = {language.name: language for language in _ALL}

ALIASES: dict[str, str] = {
    alias: language.name for language in LANGUAGES.values() for alias in language.aliases
}
