"""The Forewarn service: REST API (``/api/v1``), model registry, alerts and cases, and the dashboard.

>>> from forewarn.serve import ServeSettings, create_app
>>> create_app(ServeSettings()).title
'Forewarn'
"""

from forewarn.bundles.bundle import Bundle, ServingSpec, make_bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.serve.api.app import create_app
from forewarn.serve.service import HealthService
from forewarn.serve.settings import ServeSettings, read_costs

__all__ = [
    "Bundle",
    "HealthService",
    "ModelRegistry",
    "ServeSettings",
    "ServingSpec",
    "create_app",
    "make_bundle",
    "read_costs",
]
