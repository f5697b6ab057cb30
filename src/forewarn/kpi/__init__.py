"""Production KPIs: OEE with the ISO 22400-2 definitions, the six big losses, MTBF, MTTR, energy per good unit,
the downtime Pareto and ranked improvement opportunities.

:mod:`~forewarn.kpi.oee` holds the record layout and the definitions, :mod:`~forewarn.kpi.reliability` the
event-based figures, :mod:`~forewarn.kpi.report` one JSON-ready report for ``forewarn kpi`` and the API.
"""

from forewarn.kpi.oee import DOWN_REASONS, GROUPS, LOSSES, RECORD_COLUMNS, oee, six_big_losses, validate_records
from forewarn.kpi.reliability import downtime_pareto, mtbf_mttr, opportunities, validate_events
from forewarn.kpi.report import kpi_report

__all__ = [
    "DOWN_REASONS",
    "GROUPS",
    "LOSSES",
    "RECORD_COLUMNS",
    "downtime_pareto",
    "kpi_report",
    "mtbf_mttr",
    "oee",
    "opportunities",
    "six_big_losses",
    "validate_events",
    "validate_records",
]
