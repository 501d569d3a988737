"""The languages runakode serves (catalog), what a language is (model), and how a program's
main file is named from its source (main_files)."""

from runakode.languages.catalog import ALIASES, LANGUAGES
from runakode.languages.main_files import java_main_file, scala_main_file
from runakode.languages.model import Language

__all__ = ["ALIASES", "LANGUAGES", "Language", "java_main_file", "resolve", "scala_main_file"]


def resolve(name: str) -> Language | None:
    """The language a request names, by its name or an alias, ignoring case and spaces."""
    key = name.strip().lower()
    return LANGUAGES.get(ALIASES.get(key, key))
