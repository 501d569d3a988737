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
STDIN = b"first line\nsecond line\n"


def settings(backend: str) -> Settings:
    return Settings.model_validate(
        {"sandboxBackend": backend, "supportedLanguages": list(PROGRAMS), "sandboxPool": {}}
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
        files=(SandboxFile(entry.source_file, source.encode()),),
        run_argv=entry.run_argv(entry.source_file),
        limits=RunLimits(wall_time_s=10, output_max_bytes=1 << 20),
        stdin=STDIN,
        merge_output=False,
        compile=None,
    )


def comparable(run: PhaseResult) -> tuple[bytes, bytes, int, int | None]:
    return run.stdout, run.stderr, run.exit_code, run.signal


@pytest.mark.parametrize("backend", ["docker", "runsc"])
@pytest.mark.parametrize("language", list(PROGRAMS))
async def test_a_prestarted_run_matches_a_cold_one(backend: str, language: str) -> None:
    config = settings(backend)
    warm_spec = sandbox_spec(config, LANGUAGES[language])
    assert warm_spec.prestart is not None
    cold_spec = dataclasses.replace(warm_spec, prestart=None)
    async with running_pool(config) as pool:
        for name, source in PROGRAMS[language]:
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
