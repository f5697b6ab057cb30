"""Optional dependencies: one helper, one error that names the extra to install."""

import subprocess
import sys
import textwrap

import pytest

from forewarn._optional import DISTRIBUTIONS, installed, optional, require, requires_extra
from forewarn.exceptions import ConfigError

#: prepended to a subprocess: make ``import <name>`` fail as if the package were not installed
BLOCK = textwrap.dedent("""
    import sys

    class _Absent:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _Absent())
""")


def _without(packages: set[str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"BLOCKED = {packages!r}\n{BLOCK}\n{textwrap.dedent(code)}"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_require_names_the_extra_and_the_pip_distribution(monkeypatch):
    monkeypatch.setitem(DISTRIBUTIONS, "absent_pkg_xyz", "absent-pkg-dist")  # as paho is paho-mqtt
    with pytest.raises(
        ConfigError,
        match=r"^the MQTT connector needs absent-pkg-dist, which is not installed; "
        r"install it with: pip install 'forewarn\[stream\]'$",
    ):
        require("absent_pkg_xyz.mqtt.client", extra="stream", by="the MQTT connector")
    with pytest.raises(ConfigError, match=r"^this feature needs torchx_absent, which is not installed"):
        require("torchx_absent", extra="deep")
    assert require("json", extra="deep") is sys.modules["json"]


def test_a_module_that_fails_inside_is_not_reported_as_missing(tmp_path, monkeypatch):
    (tmp_path / "present_but_broken.py").write_text("import absent_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="absent_dependency_xyz"):
        require("present_but_broken", extra="deep")
    with pytest.raises(ModuleNotFoundError, match="absent_dependency_xyz"):
        optional("present_but_broken")
    sys.modules.pop("present_but_broken", None)


def test_optional_installed_and_the_block_form():
    assert optional("json") is sys.modules["json"] and optional("absent_pkg_xyz") is None
    assert installed("json") and not installed("absent_pkg_xyz") and not installed("absent_pkg_xyz.sub")
    with (
        pytest.raises(ConfigError, match=r"the OPC UA connector needs absent_pkg_xyz.*forewarn\[stream\]"),
        requires_extra("stream", by="the OPC UA connector"),
    ):
        import absent_pkg_xyz  # noqa: F401


def test_deep_models_import_without_torch_and_say_how_to_install_it():
    done = _without(
        {"torch"},
        """
        import numpy as np
        from forewarn.base import registry
        from forewarn.exceptions import ConfigError
        import forewarn.models.deep
        X = np.random.default_rng(0).normal(size=(60, 3))
        for name in ("autoencoder", "conv-ae", "cnn-fault", "cnn-rul", "lstm-attention-rul", "lstm-attention-failure"):
            y = None if registry.get(name).task == "anomaly" else np.arange(60) % 2
            try:
                registry.create(name).fit(X, y)
            except ConfigError as err:
                assert "forewarn[deep]" in str(err) and name in str(err), err
            else:
                raise AssertionError(name + " fitted without torch")
        assert "torch" not in sys.modules
        print("ok")
    """,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_opcua_connector_without_asyncua_names_the_stream_extra():
    done = _without(
        {"asyncua"},
        """
        from forewarn.exceptions import ConfigError
        try:
            import forewarn.stream.opcua
        except ConfigError as err:
            print(err)
    """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "the OPC UA connector needs asyncua, which is not installed; install it with: pip install 'forewarn[stream]'"
    )
