"""Start-up stays light: ``import forewarn``, the registry's names and ``forewarn --version`` load no torch,
LightGBM or FastAPI (nor numpy, pandas or scikit-learn for ``--version``); ``python -m forewarn`` runs the CLI.

The timings themselves are measured by ``benchmarks/startup.py``, not asserted here.
"""

import json
import subprocess
import sys

import pytest

HEAVY = {"torch", "lightgbm", "fastapi"}


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (a SystemExit, as from --version, is fine)."""
    wrapped = (
        f"try:\n    exec({code!r})\nexcept SystemExit:\n    pass\n"
        "import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_forewarn_is_light():
    loaded = _modules_after("import forewarn")
    assert not loaded & (HEAVY | {"numpy", "pandas", "sklearn", "importlib.metadata"})


def test_registry_names_loads_no_heavy_package():
    loaded = _modules_after("import forewarn.base.registry as r; assert len(r.names()) > 20")
    assert not loaded & (HEAVY | {"sklearn"})


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["detect", "--help"], ["serve", "--help"]], ids=" ".join)
def test_cli_start_loads_no_heavy_package(argv):
    loaded = _modules_after(f"from forewarn.cli.main import run; run({argv!r})")
    assert not loaded & HEAVY
    assert not loaded & {"numpy", "pandas", "sklearn", "scipy", "duckdb"}


def test_python_dash_m_forewarn_runs_the_cli():
    import forewarn

    done = subprocess.run([sys.executable, "-m", "forewarn", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"forewarn {forewarn.__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "forewarn", "assets", "--store", "/nonexistent/x.duckdb"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("forewarn: error: no store at"), done.stderr


def test_names_spelled_out_for_a_light_help_match_the_library():
    from forewarn import detect
    from forewarn.bench import RUNNERS
    from forewarn.cli import bench as bench_cli
    from forewarn.cli import detect as detect_cli

    assert detect_cli.DEFAULT_DETECTOR == detect.DEFAULT_DETECTOR
    assert tuple(bench_cli.DATASETS) == tuple(RUNNERS)


def test_stream_command_without_paho_says_which_extra_to_install(tmp_path):
    """A missing extra is one ``forewarn: error:`` line with the pip command, not a traceback."""
    code = f"""
import sys

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "paho":
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Absent())
from forewarn.cli.main import run
run(["stream", "--config", {str(tmp_path / "stream.toml")!r}])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "forewarn: error: forewarn stream needs paho-mqtt, which is not installed; "
        "install it with: pip install 'forewarn[stream]'"
    )
