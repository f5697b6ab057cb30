"""Lazy package attributes (PEP 562): a package names what it exports and from which submodule, and a
submodule is imported only when one of its names is first asked for.

>>> getattr_, dir_ = lazy_exports("json", {"JSONDecoder": "decoder"})
>>> getattr_("JSONDecoder").__name__
'JSONDecoder'
>>> "JSONDecoder" in dir_()
True
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a name to the submodule defining it."""

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(sys.modules[package], name, value)  # asked once: a plain attribute from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
