"""Every registered model against the shipped conformance suite."""

import pytest

from forewarn.base import checks, registry

SMALL = {  # keep the suite fast; other params stay default
    "n_estimators": 40,
    "n_trees": 30,
    "epochs": 5,
    "member_params": {"lightgbm-rul": {"n_estimators": 40}, "cnn-rul": {"epochs": 5}},
}


def _small(name):
    cls = registry.get(name)
    allowed = set(cls._param_names())
    return cls(**{k: v for k, v in SMALL.items() if k in allowed})


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", registry.names())
def test_registered_model_conforms(name, check):
    check(_small(name))


def test_every_task_has_a_model():
    assert registry.names(task="anomaly") and registry.names(task="rul")
