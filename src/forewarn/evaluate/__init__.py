"""Metrics and leak-free splits: RUL metrics (:mod:`~forewarn.evaluate.rul`), splits by asset and time
(:mod:`~forewarn.evaluate.splits`), and the task metrics in the sibling modules."""

from forewarn.evaluate.rul import mae, phm08_score, rmse, rul_metrics
from forewarn.evaluate.splits import group_holdout, group_kfold, time_cut

__all__ = ["group_holdout", "group_kfold", "mae", "phm08_score", "rmse", "rul_metrics", "time_cut"]
