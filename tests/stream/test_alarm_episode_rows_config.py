"""The stream config's ``[[models]] alarm`` table takes the alarm rule's ``episode_rows``."""

from __future__ import annotations

import pytest

from forewarn.decide.alarms import AlarmRule
from forewarn.exceptions import ConfigError
from forewarn.stream.config_file import parse_config


def _alarm(table: dict) -> dict:
    source = {"mqtt": {"subscriptions": [{"topic": "plant/+/data", "asset": "{1}"}]}}
    cfg = parse_config({**source, "models": [{"path": "models/detect", "alarm": table}]})
    return dict(cfg.models[0].alarm)


def test_episode_rows_reaches_the_rule_the_stream_builds() -> None:
    settings = _alarm({"on": 0.6, "off": 0.3, "episode_rows": 48, "scale": 20.0})
    assert settings["episode_rows"] == 48
    settings.pop("scale")
    assert AlarmRule(**settings) == AlarmRule(on=0.6, off=0.3, episode_rows=48)  # as stream.scoring builds it
    assert "episode_rows" not in _alarm({})  # unset: the rule's default, no limit


@pytest.mark.parametrize("bad", [-1, 2.5, "6h"])
def test_a_bad_episode_rows_names_the_key(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"models\[0\]\.alarm\.episode_rows"):
        _alarm({"episode_rows": bad})
