"""The lazy model registry: a table of ``module:Class`` entries, a module imported only when its model is asked for."""

import json
import subprocess
import sys

import pytest

from forewarn.base import registry
from forewarn.base.estimator import AnomalyDetector
from forewarn.exceptions import RegistryError


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_table_agrees_with_the_classes():
    """Each entry's class carries the entry's name (its @register) and task; importing every model is fine here."""
    for name, (path, task) in registry.BUILTINS.items():
        cls = registry.get(name)
        assert f"{cls.__module__}:{cls.__qualname__}" == path
        assert cls.registry_name == name, path
        assert cls.task == task, path
    assert registry.names() == sorted(registry.BUILTINS)


def test_every_registered_builtin_is_in_the_table():
    for name in registry.BUILTINS:
        registry.get(name)
    assert set(registry._REGISTRY) - set(registry.BUILTINS) == set()


def test_names_imports_no_model():
    loaded = _modules_after(
        "from forewarn.base import registry\nassert registry.names(task='rul')\nassert 'cnn-rul' in registry.names()"
    )
    assert not {m for m in loaded if m.startswith("forewarn.models.")}
    assert not loaded & {"torch", "lightgbm", "sklearn", "fastapi"}


def test_get_imports_only_the_module_asked_for():
    loaded = _modules_after("from forewarn.base import registry\nregistry.get('pca-t2q')")
    assert "forewarn.models.anomaly.pca" in loaded
    assert not loaded & {"torch", "lightgbm", "fastapi", "forewarn.models.deep", "forewarn.models.anomaly.knn"}


def test_a_plugin_registers_and_is_found_by_task():
    @registry.register("test-plugin-detector")
    class PluginDetector(AnomalyDetector):
        def _fit(self, X, y=None):
            return self

    try:
        assert registry.get("test-plugin-detector") is PluginDetector
        assert PluginDetector.registry_name == "test-plugin-detector"
        assert "test-plugin-detector" in registry.names(task="anomaly")
        assert "test-plugin-detector" not in registry.names(task="rul")
        assert isinstance(registry.create("test-plugin-detector"), PluginDetector)
    finally:
        registry._REGISTRY.pop("test-plugin-detector", None)


def test_a_plugin_cannot_take_a_builtin_name_even_before_the_builtin_is_imported():
    class Impostor(AnomalyDetector):
        pass

    with pytest.raises(RegistryError, match="already taken by the built-in forewarn.models.deep.conv_autoencoder"):
        registry.register("conv-ae")(Impostor)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(RegistryError, match="no model named 'nope'; known: .*isolation-forest"):
        registry.get("nope")
