"""runakode.image_recipes: which images `make setup` builds."""

from pathlib import Path

import pytest

from runakode.errors import ConfigError
from runakode.image_recipes import recipes
from runakode.languages import LANGUAGES


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_languages_named_by_name_or_alias_once_each(tmp_path: Path) -> None:
    assert recipes("python,golang c, py", config(tmp_path, "{}")) == ["python", "go", "c"]


def test_without_languages_the_configs_supported_ones(tmp_path: Path) -> None:
    assert recipes(None, config(tmp_path, "{}")) == list(LANGUAGES)
    assert recipes("", config(tmp_path, "supportedLanguages: [lua, tcl]")) == ["lua", "tcl"]


def test_a_language_whose_image_the_operator_names_is_theirs_to_build(tmp_path: Path) -> None:
    path = config(tmp_path, "supportedLanguages: [lua, tcl]\nsandboxImages: {lua: my-lua}")
    assert recipes(None, path) == ["tcl"]


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown language 'fsharp'"):
        recipes("python,fsharp", config(tmp_path, "{}"))
