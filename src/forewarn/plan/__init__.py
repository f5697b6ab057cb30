"""Maintenance planning and spare parts: a HiGHS schedule from failure risk, costs, crews, calendar and parts
(:mod:`~forewarn.plan.schedule`), risk curves from model outputs (:mod:`~forewarn.plan.risk`), work-order
export, and intermittent-demand forecasting with inventory policy (:mod:`~forewarn.plan.parts`)."""

from forewarn.plan.schedule import AssetRisk, PlanProblem, PlanResult, plan_maintenance

__all__ = ["AssetRisk", "PlanProblem", "PlanResult", "plan_maintenance"]
