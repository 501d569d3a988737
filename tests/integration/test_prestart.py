"""A program run in an interpreter started ahead behaves exactly as one started cold.

Each case runs the same job twice through a real backend: once in a sandbox whose interpreter
was started at boot (its spec has a Prestart), once in a sandbox without one, and compares
everything the program could show: its output, exit code, argv, main-module identity, loaded
modules, uncaught-exception output with line numbers, stdin, and its own source file.
"""

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from runakode.config import Settings
from runakode.jobs import sandbox_spec
from runakode.languages import LANGUAGES
from runakode.sandboxes import create_backend
from runakode.sandboxes.base import (
    PhaseResult,
    RunLimits,
    SandboxFile,
    SandboxJob,
    SandboxSpec,
)
from runakode.sandboxes.pool import SandboxPool

PROGRAMS: dict[str, list[tuple[str, str]]] = {
    "python": [
        (
            "identity",
            "import sys\n"
            "print(__name__, sys.argv, __file__, __spec__, __package__, __doc__)\n"
            "print(sorted(k for k in globals()))\n"
            "print(sorted(sys.modules))\n"
            "print(sys.path[0], sys.flags, sys.orig_argv)\n"
            "print(open(__file__).read().splitlines()[0])\n",
        ),
        ("traceback", "def f():\n    return 1 / 0\n\nprint('before')\nf()\n"),
        ("exit code", "import sys\nprint('x', file=sys.stderr)\nsys.exit(7)\n"),
        ("stdin", "import sys\nprint(repr(sys.stdin.read()))\n"),
        ("syntax error", "print('a'\nx = \n"),
    ],
    "javascript": [
        (
            "identity",
            "console.log(require.main === module, process.argv, __filename, module.id);\n"
            "console.log(process.execArgv, Object.keys(require.cache));\n"
            "console.log(require('fs').readFileSync(__filename, 'utf8').split('\\n')[0]);\n",
        ),
        ("traceback", "function f() {\n  throw new Error('boom');\n}\nf();\n"),
        ("exit code", "console.error('x');\nprocess.exit(7);\n"),
        ("stdin", "console.log(JSON.stringify(require('fs').readFileSync(0, 'utf8')));\n"),
        ("syntax error", "console.log('a'\nlet = ;\n"),
    ],
    "ruby": [
        (
            "identity",
            "p [__FILE__, $0, __FILE__ == $0, ARGV, __ENCODING__, $VERBOSE]\n"
            "p $LOADED_FEATURES.size, caller\n"
            "p File.read(__FILE__).lines.first\n"
            "p DATA.read\n"
            "__END__\ndata part\n",
        ),
        ("traceback", "def f\n  raise ArgumentError, 'boom'\nend\n\nf\n"),
        ("exit code", "$stderr.puts 'x'\nexit 7\n"),
        ("stdin", "p $stdin.read\n"),
        ("syntax error", "puts('a'\ndef\n"),
        # Cold by design (a #! line's options), and still the same.
        ("shebang options", "#!/usr/bin/ruby -w\nx = 1\np $VERBOSE\n"),
    ],
    "php": [
        (
            "identity",
            "<?php\nvar_dump($argv, __FILE__, $_SERVER['SCRIPT_NAME'], get_included_files());\n"
            'echo explode("\\n", file_get_contents(__FILE__))[0], "\\n";\n',
        ),
        ("traceback", "<?php\nfunction f() {\n  throw new Exception('boom');\n}\nf();\n"),
        ("exit code", "<?php\nfwrite(STDERR, 'x');\nexit(7);\n"),
        ("stdin", "<?php\nvar_dump(stream_get_contents(STDIN));\n"),
        ("syntax error", "<?php\necho 'a'\n$x = ;\n"),
    ],
    "bash": [
        (
            "identity",
            'echo "$0" "$#" "$@" "$BASH_SOURCE" "$$" | sed "s/ [0-9]*$//"\nhead -1 "$0"\n',
        ),
        ("exit code", "echo x >&2\nexit 7\n"),
        ("stdin", "cat; echo; read -r x < /dev/null; echo done\n"),
        ("syntax error", "if then fi\n"),
        ("line numbers", "echo one\nfalse_command_here\necho $LINENO\n"),
    ],
}
# Interpreters whose start costs most under gVisor (0.4-2.2 s here), started ahead as well.
SLOW_STARTERS: dict[str, list[tuple[str, str]]] = {
    "elixir": [
        (
            "identity",
            "IO.inspect({Path.basename(__ENV__.file), System.argv(), __MODULE__})\n"
            'IO.puts(File.read!(__ENV__.file) |> String.split("\\n") |> hd)\n',
        ),
        ("traceback", 'defmodule M do\n  def f, do: raise("boom")\nend\nM.f()\n'),
        ("exit code", 'IO.puts(:stderr, "x")\nSystem.halt(7)\n'),
        ("stdin", "IO.inspect(IO.read(:stdio, :eof))\n"),
    ],
    "erlang": [
        (
            "identity",
            "main(Args) ->\n"
            '    io:format("~p ~p~n", [Args, filename:basename(escript:script_name())]).\n',
        ),
        ("exit code", 'main(_) -> io:format(standard_error, "x~n", []), halt(7).\n'),
        ("stdin", 'main(_) -> io:format("~p~n", [io:get_line("")]).\n'),
        ("error", "main(_) -> erlang:error(boom).\n"),
    ],
    "clojure": [
        (
            "identity",
            "(println *file* *command-line-args*)\n"
            "(println (first (line-seq (clojure.java.io/reader *file*))))\n",
        ),
        # An uncaught error's report names a random temporary file: caught, it does not.
        ("error", "(defn f [] (/ 1 0))\n(try (f) (catch Exception e (println (.getMessage e))))\n"),
        ("exit code", '(binding [*out* *err*] (println "x"))\n(System/exit 7)\n'),
        ("stdin", "(prn (slurp *in*))\n"),
    ],
    "octave": [
        ("identity", "disp(program_name());\ndisp(argv());\ndisp(mfilename());\n"),
        ("error", 'function f()\n  error("boom");\nend\nf();\n'),
        ("exit code", 'fprintf(stderr, "x\\n");\nexit(7);\n'),
        ("stdin", 'disp(fread(stdin, Inf, "char=>char")\');\n'),
    ],
    "r": [
        ("identity", "print(commandArgs())\nprint(sys.call())\n"),
        ("error", 'f <- function() stop("boom")\nf()\n'),
        ("exit code", 'cat("x\\n", file = stderr())\nquit(status = 7)\n'),
        ("stdin", 'print(readLines(file("stdin")))\n'),
    ],
    "coffeescript": [
        ("identity", "console.log require.main is module, process.argv.slice(1), __filename\n"),
        ("traceback", 'f = -> throw new Error "boom"\nf()\n'),
        ("exit code", 'console.error "x"\nprocess.exit 7\n'),
        ("stdin", "console.log JSON.stringify require('fs').readFileSync(0, 'utf8')\n"),
    ],
    "emacs": [
        ("identity", '(princ (format "%S %S\\n" load-file-name command-line-args-left))\n'),
        ("error", '(defun f () (error "boom"))\n(f)\n'),
        ("exit code", '(message "x")\n(kill-emacs 7)\n'),
        ("stdin", '(princ (read-from-minibuffer ""))\n'),
    ],
    "racket": [
        (
            "identity",
            "#lang racket\n(displayln (find-system-path 'run-file))\n"
            "(displayln (current-command-line-arguments))\n",
        ),
        ("error", '#lang racket\n(define (f) (error \'f "boom"))\n(f)\n'),
        ("exit code", '#lang racket\n(eprintf "x~n")\n(exit 7)\n'),
        ("stdin", "#lang racket\n(write (port->string (current-input-port)))\n"),
    ],
    "raku": [
        ("identity", "say $*PROGRAM-NAME;\nsay @*ARGS;\nsay $?FILE.IO.basename;\n"),
        ("error", 'sub f { die "boom" }\nf();\n'),
        ("exit code", 'note "x";\nexit 7;\n'),
        ("stdin", "say $*IN.slurp.raku;\n"),
    ],
}
STDIN = b"first line\nsecond line\n"


def settings(backend: str) -> Settings:
    return Settings.model_validate(
        {
            "sandboxBackend": backend,
            "supportedLanguages": [*PROGRAMS, *SLOW_STARTERS],
            "sandboxPool": {},
        }
    )


@contextlib.asynccontextmanager
async def running_pool(config: Settings) -> AsyncIterator[SandboxPool]:
    pool = SandboxPool(create_backend(config), {})
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close()


def job(spec: SandboxSpec, language: str, source: str) -> SandboxJob:
    entry = LANGUAGES[language]
    return SandboxJob(
        job_id=f"prestart-{language}",
        spec=spec,
        files=(SandboxFile(entry.source_file, entry.source_prefix + source.encode()),),
        run_argv=entry.run_argv(entry.source_file),
        limits=RunLimits(wall_time_s=10, output_max_bytes=1 << 20),
        stdin=STDIN,
        merge_output=False,
        compile=None,
    )


def comparable(run: PhaseResult) -> tuple[bytes, bytes, int, int | None]:
    return run.stdout, run.stderr, run.exit_code, run.signal


# The slow starters run on the default backend only: the mechanism is the launcher's, the same
# on both, and each of their cases costs seconds.
CASES = [
    *((backend, language) for backend in ("docker", "runsc") for language in PROGRAMS),
    *(("runsc", language) for language in SLOW_STARTERS),
]


@pytest.mark.parametrize(("backend", "language"), CASES)
async def test_a_prestarted_run_matches_a_cold_one(backend: str, language: str) -> None:
    config = settings(backend)
    warm_spec = sandbox_spec(config, LANGUAGES[language])
    assert warm_spec.prestart is not None
    cold_spec = dataclasses.replace(warm_spec, prestart=None)
    programs = {**PROGRAMS, **SLOW_STARTERS}[language]
    async with running_pool(config) as pool:
        for name, source in programs:
            warm, cold = await asyncio.gather(
                pool.run(job(warm_spec, language, source)),
                pool.run(job(cold_spec, language, source)),
            )
            assert warm.run is not None and cold.run is not None, name
            assert comparable(warm.run) == comparable(cold.run), name
            # Each case shows something to compare.
            assert warm.run.stdout or warm.run.stderr, name
            assert not cold.run.prestarted, name
            # Ruby's #! options need a cold start: the host sends such a source cold on purpose.
            assert warm.run.prestarted == (name != "shebang options"), name
