"""prompts.toml is checked at start-up against what the code uses, naming file and key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dialogues.bundle import load_content
from dialogues.catalogue import DEFAULT_CONTENT_DIR, ContentError
from dialogues.prompts import MESSAGES


@pytest.fixture
def broken(tmp_path: Path) -> Callable[[str, str], Path]:
    """A copy of the content whose prompts.toml has `old` replaced by `new`."""

    def make(old: str, new: str) -> Path:
        folder = tmp_path / "content"
        shutil.copytree(DEFAULT_CONTENT_DIR, folder)
        path = folder / "prompts.toml"
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture text not found: {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return folder

    return make


def test_shipped_prompts_load_with_every_message() -> None:
    content = load_content()
    assert set(MESSAGES) <= set(content.prompts.messages)
    assert content.prompts.step("description").max == 3500


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('kept = "Good, carrying on."\n', "", "messages.kept"),
        ("{reference}: keep it", "{referance}: keep it", "messages.submitted"),
        ('paused = "Saved.', 'paused = "Saved {', "messages.paused"),
        ('[steps.actions]\nkind = "text"', '[steps.actions]\nkind = "essay"', "steps.actions.kind"),
        ("min = 20\nmax = 3500", "min = 20\nmax = 10", "steps.description.max"),
        ('anonymous = "Anonymous"\n', "", "steps.identity.choices.anonymous"),
        ('browse = "Browse all standards"\n', "", "steps.standards.browse"),
        ('title = "Learners affected"\n', "", "steps.affected.title"),
        ("[steps.university]", "[steps.universities]", "steps.university"),
        ("{items}", "{item}", "steps.story_check.prompt"),
        ('some_wrong = "Some of it is wrong"\n', "", "steps.story_check.choices.some_wrong"),
        ('patients = "Patients"\n', "", "steps.story_wrong.patients"),
        ('send = "Sending and privacy"\n', "", "steps.review.send"),
        (
            'explain = "What do these mean?"\n\n[steps.impact]',
            "\n[steps.impact]",
            "steps.likelihood.explain",
        ),
        ('fear_local = "You are afraid', 'fears = "You are afraid', "reasons.fear_local"),
        ("{symbol} {band}", "{symbol} {colour}", "messages.score"),
        ("so far: {count}.", "so far: {count:>5}.", "messages.resumed"),
        ("so far: {count}.", "so far: {count!r}.", "messages.resumed"),
        ("Welcome back.", "Welcome back {}.", "messages.resumed"),
        (
            '[steps.likelihood]\nkind = "choice"',
            '[steps.likelihood]\nkind = "text"\nmin = 1\nmax = 9',
            "steps.likelihood.kind",
        ),
        ('[steps.name]\nkind = "text"', '[steps.name]\nkind = "info"', "steps.name.kind"),
        (
            '[steps.group]\nkind = "choice"',
            '[steps.group]\nkind = "choice"\nchoices = { a = "A" }',
            "steps.group.choices",
        ),
    ],
)
def test_a_broken_prompt_stops_start_up_naming_the_key(
    broken: Callable[[str, str], Path], old: str, new: str, key: str
) -> None:
    with pytest.raises(ContentError) as caught:
        load_content(broken(old, new))
    assert caught.value.file == "prompts.toml"
    assert caught.value.key == key


def test_syntax_error_is_reported_as_such(broken: Callable[[str, str], Path]) -> None:
    with pytest.raises(ContentError) as caught:
        load_content(broken("[messages]", "[messages"))
    assert (caught.value.file, caught.value.key) == ("prompts.toml", "(syntax)")
