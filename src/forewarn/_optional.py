"""Optional dependencies: one way to import a package that an extra (``forewarn[deep]``, ``[serve]``,
``[stream]``) installs, and one error when it is missing.

The lean install brings what ingest, demo, train, backtest, score and detect need; torch, FastAPI, paho-mqtt and
asyncua come with extras. Code that needs one of them imports it through this module, at the place it is used
(so ``import forewarn`` and the CLI's ``--help`` never load it), and a missing package becomes a
:class:`~forewarn.exceptions.ConfigError` that names the extra and the pip command, instead of a bare
``No module named 'paho'``:

* ``torch = require("torch", extra="deep", by="cnn-fault")`` inside the function that needs it;
* ``with requires_extra("stream", by="the MQTT connector"):`` around a module's top-level imports of a package
  that the whole module is built on (``from``-imports keep their names and types);
* ``optional("torch")``: the module, or ``None`` where it is not installed, for a module that must import without
  it but uses it at definition time where it is (a ``torch.nn.Module`` subclass); the code that runs the network
  then calls :func:`require`.

>>> require("json", extra="core").__name__
'json'
>>> require("no_such_module_xyz", extra="deep", by="cnn-fault")
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: cnn-fault needs no_such_module_xyz, which is not installed; install it with: pip install 'forewarn[deep]'
>>> optional("no_such_module_xyz") is None
True
>>> installed("json"), installed("no_such_module_xyz")
(True, False)
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from forewarn.exceptions import ConfigError

#: the pip distribution of each optional top-level package, where its name differs from the import name
DISTRIBUTIONS = {"paho": "paho-mqtt"}


def _missing(module: str, extra: str, by: str | None) -> ConfigError:
    package = DISTRIBUTIONS.get(module.partition(".")[0], module.partition(".")[0])
    return ConfigError(
        f"{by or 'this feature'} needs {package}, which is not installed; "
        f"install it with: pip install 'forewarn[{extra}]'"
    )


def _is_absent(err: ModuleNotFoundError, module: str) -> bool:
    """Whether ``err`` says that ``module`` (or a package above it) is absent, not a module that it imports."""
    return err.name is not None and (module == err.name or module.startswith(err.name + "."))


def require(module: str, *, extra: str, by: str | None = None) -> ModuleType:
    """The module ``module``, imported now (Python caches it); a :class:`ConfigError` naming the extra to install
    when it is absent. ``by`` names what needs it in the message (a model name, "the MQTT connector")."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if _is_absent(err, module):
            raise _missing(module, extra, by) from None
        raise


def optional(module: str) -> ModuleType | None:
    """The module ``module`` where it is installed, else ``None`` (an installed one is imported now)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if _is_absent(err, module):
            return None
        raise


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (cheap: no torch loaded to answer)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is absent
        return False


@contextmanager
def requires_extra(extra: str, *, by: str | None = None) -> Iterator[None]:
    """Turn a missing package imported inside the block into the :class:`ConfigError` of :func:`require`."""
    try:
        yield
    except ModuleNotFoundError as err:
        if err.name is None:
            raise
        raise _missing(err.name, extra, by) from None
