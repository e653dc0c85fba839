"""Run profiles and the self-check exercise mechanism."""

from __future__ import annotations

import pytest
import torch

import cnn_course
from cnn_course.exercises import Exercise, check, register, solution
from cnn_course.profiles import choose_settings, get_profile

TABLE = {
    "smoke": {"epochs": 1, "train_size": 1000},
    "quick": {"epochs": 3, "train_size": 20000},
    "full": {"epochs": 10, "train_size": None},
}


def test_profile_from_environment(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CNN_COURSE_PROFILE", "Smoke")
    assert get_profile() == "smoke"
    cfg = choose_settings(TABLE)
    assert cfg.profile == "smoke" and cfg.epochs == 1 and cfg.train_size == 1000
    assert "profile: smoke" in capsys.readouterr().out
    monkeypatch.delenv("CNN_COURSE_PROFILE")
    assert get_profile() == ("full" if torch.cuda.is_available() else "quick")
    assert choose_settings(TABLE, profile="full", verbose=False).epochs == 10


def test_bad_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNN_COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="CNN_COURSE_PROFILE='fast'.*smoke, quick, full"):
        get_profile()
    with pytest.raises(ValueError, match="profile='turbo'"):
        choose_settings(TABLE, profile="turbo")
    with pytest.raises(ValueError, match="no entry for profile"):
        choose_settings({"smoke": {}, "quick": {}}, profile="smoke")
    with pytest.raises(ValueError, match="same settings"):
        choose_settings({**TABLE, "full": {"epochs": 10}}, profile="full")


def test_exercise_feedback() -> None:
    register(
        Exercise(
            key="test-1", question="conv_output_size(7, 3, stride=2)?", answer=3, solution="floor((7-3)/2)+1 = 3",
            hints=((2.0, "forgot the +1"),),
        ),
        Exercise(key="test-2", question="shape?", answer=(6, 14, 14), solution="..."),
    )
    assert check("test-1", 3).correct and check("test-1", 3.0).correct
    wrong = check("test-1", 2)
    assert not wrong and "forgot the +1" in str(wrong)
    assert "提示" in str(check("test-1", 5))
    assert "还没有作答" in str(check("test-1", ...))
    assert check("test-2", (6, 14, 14)) and check("test-2", torch.Size([6, 14, 14]))
    assert not check("test-2", (6, 14)) and not check("test-2", "6, 14, 14")
    assert "floor((7-3)/2)+1 = 3" in solution("test-1")
    with pytest.raises(ValueError, match="unknown exercise key 'nope'"):
        check("nope", 1)


import cnn_course.exercise_bank  # noqa: E402,F401  (registers the course's exercises)
from cnn_course.exercises import _REGISTRY, exercise  # noqa: E402

COURSE_KEYS = sorted(key for key in _REGISTRY if not key.startswith("test-"))


def test_every_chapter_has_at_least_three_exercises() -> None:
    chapters = {key.split("-")[0] for key in COURSE_KEYS}
    assert chapters == {"01", "02", "03", "04", "05", "06"}
    for chapter in chapters:
        assert sum(key.startswith(chapter + "-") for key in COURSE_KEYS) >= 3, chapter


@pytest.mark.parametrize("key", COURSE_KEYS)
def test_each_exercise_accepts_its_answer_and_has_hints(key: str) -> None:
    item = _REGISTRY[key]
    assert item.question and item.solution
    assert check(key, item.answer).correct
    assert not check(key, ...).correct and "还没有作答" in check(key, ...).message
    assert exercise(key) == item.question and repr(item.answer) in solution(key)
    assert len(item.hints) >= 3
    for wrong, hint in item.hints:
        feedback = check(key, wrong)
        assert not feedback.correct and hint in feedback.message
    assert not check(key, 123456789).correct


def test_public_api_is_importable_without_side_effects() -> None:
    for name in cnn_course.__all__:
        assert hasattr(cnn_course, name), name
