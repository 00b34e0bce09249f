"""The committed schema must not break clients by accident.

The SDL is compared with the previous committed version of schema.graphql (the newest
commit whose file differs); every breaking change graphql-core finds must be listed,
word for word, in schema.breaking.txt: that is how a change is marked intentional.
"""

from __future__ import annotations

import subprocess

import pytest
from graphql import build_schema, find_breaking_changes

from aidmap.settings import PROJECT_ROOT

SDL = PROJECT_ROOT / "schema.graphql"
INTENTIONAL = PROJECT_ROOT / "schema.breaking.txt"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout


def previous_sdl(current: str) -> str | None:
    """The newest committed schema.graphql that differs from the current one."""
    for revision in _git("rev-list", "HEAD", "--", "schema.graphql").split():
        text = _git("show", f"{revision}:schema.graphql")
        if text != current:
            return text
    return None


def intentional() -> set[str]:
    lines = INTENTIONAL.read_text(encoding="utf-8").splitlines() if INTENTIONAL.exists() else []
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def test_no_unmarked_breaking_change_against_the_previous_committed_schema() -> None:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.fail("the breaking-change check needs the git history (a clone, not an export)")
    current = SDL.read_text(encoding="utf-8")
    previous = previous_sdl(current)
    if previous is None:
        return  # the first version of the schema: nothing to break
    changes = [c.description for c in find_breaking_changes(build_schema(previous), build_schema(current))]
    unmarked = [c for c in changes if c not in intentional()]
    assert unmarked == [], "breaking changes not listed in schema.breaking.txt:\n" + "\n".join(unmarked)


def test_the_check_finds_a_removed_field() -> None:
    before = build_schema("type Query { a: Int, b: Int }")
    after = build_schema("type Query { a: Int }")
    assert [c.description for c in find_breaking_changes(before, after)] == ["Field Query.b was removed."]
