from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Compile deadline of a language that sets none: C, C++ and the like compile an ordinary
# program in well under a second natively, a few seconds in a loaded sandbox.
DEFAULT_COMPILE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Language:
    """Everything the service knows about a language; its image recipe is
    sandbox/images/<name>/Dockerfile, which also records the version in /opt/runakode/version.

    In `compile` and `run`: "{file}" stands for the main source file, "{stem}" for its name
    without the extension, "{sources}" for the main file then every other file of the job with
    one of `extensions` (sorted), "{others}" for those others alone; in `compile`, "{options}"
    for the client's compiler options (Judge0's compiler_options), zero or more words placed
    after ours so that they win.
    """

    name: str
    source_file: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    # Source files of the language, by extension (default: the main file's): the extra files
    # of a job with these take part in its build.
    extensions: tuple[str, ...] = ()
    # The compile step runs only when the job has other sources (Erlang: escript runs the main
    # file as it is, the modules beside it are compiled first).
    compile_only_with_others: bool = False
    # The compile deadline this toolchain needs on a loaded host (the operator's
    # compileTimeout caps it).
    compile_timeout_s: float = DEFAULT_COMPILE_TIMEOUT_S
    # Written ahead of the program in its main file (escript takes the first line for a
    # header, so Erlang's gets an empty line first, as Judge0 does).
    source_prefix: bytes = b""
    main_file_from_source: Callable[[str], str] | None = field(default=None, compare=False)
    # What its compile produces that its run needs (glob patterns in the work directory; "*"
    # also matches "/"): a compile cache keeps these and runs them again without compiling.
    artifacts: tuple[str, ...] = ()
    # Its interpreter is started in each idle sandbox ahead of the job (its start under
    # gVisor costs 15-300 ms), with `prelude` written ahead of the source (see Prestart).
    prestart: bool = False
    prestart_prelude: bytes = b""

    @property
    def source_extensions(self) -> tuple[str, ...]:
        if self.extensions:
            return self.extensions
        _, dot, extension = self.source_file.rpartition(".")
        return (f".{extension}",) if dot else ()

    def main_file(self, source: str) -> str:
        if self.main_file_from_source is not None:
            return self.main_file_from_source(source)
        return self.source_file

    def other_sources(self, main_file: str, file_names: Sequence[str]) -> list[str]:
        """The job's other files that are sources of this language, in a stable order."""
        return sorted(
            name
            for name in file_names
            if name != main_file and name.endswith(self.source_extensions)
        )

    def compile_argv(
        self,
        main_file: str,
        options: tuple[str, ...] = (),
        file_names: Sequence[str] = (),
    ) -> tuple[str, ...] | None:
        if self.compile is None:
            return None
        others = self.other_sources(main_file, file_names)
        if self.compile_only_with_others and not others:
            return None
        return _expand(self.compile, main_file, others, options)

    def run_argv(
        self, main_file: str, args: tuple[str, ...] = (), file_names: Sequence[str] = ()
    ) -> tuple[str, ...]:
        others = self.other_sources(main_file, file_names)
        return (*_expand(self.run, main_file, others), *args)


def _expand(
    template: tuple[str, ...],
    main_file: str,
    others: list[str],
    options: tuple[str, ...] = (),
) -> tuple[str, ...]:
    stem = main_file.rsplit(".", 1)[0]
    expanded: list[str] = []
    for part in template:
        if part == "{options}":
            expanded.extend(options)
        elif part == "{sources}":
            expanded.extend((main_file, *others))
        elif part == "{others}":
            expanded.extend(others)
        else:
            expanded.append(part.replace("{file}", main_file).replace("{stem}", stem))
    return tuple(expanded)
