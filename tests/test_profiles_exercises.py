"""Run profiles, and the public API. (The exercises are tested in tests/test_exercises_*.py.)"""

from __future__ import annotations

import pytest
import torch

import cnn_course
from cnn_course.config import PROFILE_ENV
from cnn_course.profiles import choose_settings, get_profile

TABLE = {
    "smoke": {"epochs": 1, "train_size": 1000},
    "quick": {"epochs": 3, "train_size": 20000},
    "full": {"epochs": 10, "train_size": None},
}


def test_choose_settings_reads_the_profile_from_the_environment(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(PROFILE_ENV, "Smoke")
    cfg = choose_settings(TABLE)
    assert cfg.profile == "smoke" and cfg.epochs == 1 and cfg.train_size == 1000
    assert f"档位（profile）：smoke（设置环境变量 {PROFILE_ENV}=smoke|quick|full 可以更改）" in capsys.readouterr().out


def test_profile_without_the_environment_depends_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    assert get_profile() == ("full" if torch.cuda.is_available() else "quick")


def test_a_profile_given_to_choose_settings_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    cfg = choose_settings(TABLE, profile="full", verbose=False)
    assert cfg.profile == "full" and cfg.epochs == 10


def test_bad_profile_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROFILE_ENV, "fast")
    with pytest.raises(ValueError, match=f"{PROFILE_ENV}='fast' 不是档位；请用 smoke、quick、full 之一"):
        choose_settings(TABLE)


@pytest.mark.parametrize(
    "table, profile, message",
    [
        (TABLE, "turbo", "profile='turbo' 不是档位"),
        ([1, 2, 3], "smoke", "table 必须把每个档位对应到它的设置.*传入的是 list"),
        ({"smoke": {}, "quick": {}}, "smoke", "设置表里没有档位 full 的设置"),
        ({**TABLE, "full": {"epochs": 10}}, "full", "请给每个档位同样的设置"),
        ({**TABLE, "quick": 3}, "quick", r"table\['quick'\] 必须是装着设置的 dict"),
        ({p: {"profile": p} for p in TABLE}, "smoke", "设置名 'profile'.*'profile' 已被占用"),
        ({p: {"train size": 1} for p in TABLE}, "smoke", "设置名 'train size'；请用 'epochs' 这样的 Python 名字"),
    ],
)
def test_bad_settings_are_refused(table: object, profile: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choose_settings(table, profile=profile, verbose=False)


def test_public_api_is_importable_without_side_effects() -> None:
    for name in cnn_course.__all__:
        assert hasattr(cnn_course, name), name
