"""Reading recipe files: validated with `extra="forbid"`, every problem reported as `file:line: field:
problem`; parsed recipes kept until their file changes; the JSON Schema for editors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.webportal.recipe.model import Recipe
from hub.errors import ConfigError
from mappings.yaml_safety import RulesFileError, read_yaml


class RecipeError(ConfigError):
    """A recipe that does not load; the message has one `file:line: field: problem` per problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"recipe {path} is not valid:\n  " + "\n  ".join(problems))


def parse_recipe(path: Path) -> Recipe:
    """Read and validate one recipe file."""
    try:
        document = read_yaml(path)
    except RulesFileError as exc:
        raise RecipeError(path, [str(problem) for problem in exc.problems]) from exc
    try:
        return Recipe.model_validate(document.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            # Shorthands add pydantic's own steps ("function-before[...]"): not the file's.
            shown = [str(p) for p in location if not str(p).startswith(("function-", "Target"))]
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling)"
            line = document.line_of(location) or 1
            problems.append(f"{path}:{line}: {'.'.join(shown) or 'recipe'}: {message}")
        raise RecipeError(path, problems) from exc


def recipe_schema() -> dict[str, Any]:
    """The JSON Schema of a recipe file (for editors: `portalhub recipe schema > recipe.schema.json`)."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "portalhub web-portal recipe"
    return schema


class RecipeCache:
    """Parsed recipes, read again when their file changes (AR operations edit them like rules files)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Recipe]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Recipe:
        try:
            stat = path.stat()
        except OSError as exc:
            raise RecipeError(path, [f"{path}: the recipe file does not exist ({exc.strerror})"]) from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        recipe = parse_recipe(path)
        with self._lock:
            self._cache[path] = (stamp, recipe)
        return recipe
