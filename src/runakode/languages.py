from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    name: str
    source_file: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None


LANGUAGES: dict[str, Language] = {
    language.name: language
    for language in (
        Language(name="python", source_file="main.py", run=("python3", "main.py")),
        Language(
            name="go",
            source_file="main.go",
            compile=("runakode-go-build",),
            run=("./main",),
        ),
    )
}
