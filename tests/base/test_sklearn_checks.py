"""scikit-learn's own ``check_estimator`` on every registered model: the checks that pass today keep passing.

The lists below were recorded with scikit-learn 1.9 (``check_estimator(..., on_fail=None)``); why each other
check cannot pass is written in ``docs/sklearn-compatibility.md``. A check that starts to pass can be added; one
that stops passing is a regression.
"""

import warnings

import pytest

from forewarn.base import registry

SMALL = {"n_estimators": 20, "n_trees": 20, "epochs": 2, "max_iter": 5}  # fast; the checks use tiny data

#: checks every registered model passes (names without the ``check_`` prefix)
ALL = {
    "complex_data",
    "dict_unchanged",
    "do_not_raise_errors_in_init_or_set_params",
    "dont_overwrite_parameters",
    "dtype_object",
    "estimator_cloneable",
    "estimator_repr",
    "estimator_sparse_array",
    "estimator_sparse_matrix",
    "estimator_sparse_tag",
    "estimator_tags_renamed",
    "estimators_empty_data_messages",
    "estimators_fit_returns_self",
    "estimators_overwrite_params",
    "estimators_pickle",
    "f_contiguous_array_estimator",
    "fit1d",
    "fit2d_predict1d",
    "get_params_invariance",
    "methods_sample_order_invariance",
    "mixin_order",
    "no_attributes_set_in_init",
    "parameters_default_constructible",
    "positive_only_tag_during_fit",
    "readonly_memmap_input",
    "set_params",
    "valid_tag_types",
}
#: checks every model of a task passes besides
BY_TASK = {
    "anomaly": {
        "estimators_dtypes",
        "estimators_unfitted",
        "fit2d_1feature",
        "fit_check_is_fitted",
        "fit_idempotent",
        "methods_subset_invariance",
        "n_features_in",
    },
    "failure": {
        "classifier_not_supporting_multiclass",
        "classifiers_one_label",
        "classifiers_one_label_sample_weights",
        "classifiers_regression_target",
        "decision_proba_consistency",
        "estimators_partial_fit_n_features",
        "fit2d_1sample",
        "fit_check_is_fitted",
        "fit_idempotent",
        "fit_score_takes_y",
        "methods_subset_invariance",
        "n_features_in",
        "pipeline_consistency",
        "requires_y_none",
        "supervised_y_no_nan",
    },
    "fault": {
        "classifier_data_not_an_array",
        "classifiers_classes",
        "classifiers_one_label",
        "classifiers_one_label_sample_weights",
        "classifiers_regression_target",
        "decision_proba_consistency",
        "estimators_dtypes",
        "estimators_partial_fit_n_features",
        "fit2d_1sample",
        "fit_check_is_fitted",
        "fit_idempotent",
        "fit_score_takes_y",
        "methods_subset_invariance",
        "n_features_in",
        "n_features_in_after_fitting",
        "non_transformer_estimators_n_iter",
        "pipeline_consistency",
        "requires_y_none",
        "supervised_y_no_nan",
    },
    "rul": {
        "estimators_dtypes",
        "estimators_partial_fit_n_features",
        "fit_score_takes_y",
        "pipeline_consistency",
        "regressors_int",
        "requires_y_none",
        "supervised_y_no_nan",
    },
}
#: and checks some models pass beyond their task's
EXTRA = {
    "autoencoder": {"estimators_nan_inf", "fit2d_1sample"},
    "cnn-fault": {"estimators_nan_inf"},
    "cnn-rul": {
        "estimators_nan_inf",
        "fit2d_1feature",
        "fit2d_1sample",
        "methods_subset_invariance",
        "non_transformer_estimators_n_iter",
    },
    "conv-ae": {"estimators_nan_inf", "fit2d_1sample"},
    "ensemble-rul": {
        "estimators_nan_inf",
        "fit2d_1feature",
        "methods_subset_invariance",
        "non_transformer_estimators_n_iter",
    },
    "extra-trees-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "extra-trees-rul": {
        "fit2d_1feature",
        "fit2d_1sample",
        "methods_subset_invariance",
        "non_transformer_estimators_n_iter",
    },
    "gradient-boosting-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "gradient-boosting-rul": {
        "fit2d_1feature",
        "fit2d_1sample",
        "methods_subset_invariance",
        "non_transformer_estimators_n_iter",
    },
    "isolation-forest": {"estimators_nan_inf", "fit2d_1sample"},
    "knn": {"estimators_nan_inf", "fit2d_1sample"},
    "knn-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "knn-rul": {"fit2d_1feature", "fit2d_1sample", "methods_subset_invariance", "non_transformer_estimators_n_iter"},
    "lightgbm-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "lightgbm-fault": {"classifiers_train", "fit2d_1feature"},
    "lightgbm-rul": {"fit2d_1feature", "methods_subset_invariance", "non_transformer_estimators_n_iter"},
    "logistic-failure": {"n_features_in_after_fitting"},
    "lstm-attention-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "lstm-attention-rul": {"fit2d_1feature", "fit2d_1sample", "non_transformer_estimators_n_iter"},
    "mlp-rul": {"fit2d_1sample", "methods_subset_invariance"},
    "mset": {"estimators_nan_inf", "fit2d_1sample"},
    "pca-t2q": {"estimators_nan_inf", "fit2d_1sample"},
    "random-forest-failure": {"n_features_in_after_fitting", "non_transformer_estimators_n_iter"},
    "random-forest-rul": {
        "fit2d_1feature",
        "fit2d_1sample",
        "methods_subset_invariance",
        "non_transformer_estimators_n_iter",
    },
    "spectral-gbm": {"classifiers_train", "estimators_nan_inf"},
}


def _expected(name: str) -> set[str]:
    cls = registry.get(name)
    return {f"check_{c}" for c in ALL | BY_TASK[cls.task] | EXTRA.get(name, set())}


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_sklearn_checks_that_pass_keep_passing(name):
    from sklearn.utils.estimator_checks import check_estimator

    cls = registry.get(name)
    model = cls(**{k: v for k, v in SMALL.items() if k in cls._param_names()})
    with warnings.catch_warnings():  # the checks warn on purpose (skips, conversions)
        warnings.simplefilter("ignore")
        results = check_estimator(model, on_fail=None, on_skip=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    ran = {r["check_name"] for r in results}
    assert _expected(name) <= ran, f"checks no longer run: {sorted(_expected(name) - ran)}"
    broken = {c: repr(failed[c])[:300] for c in _expected(name) if c in failed}
    assert not broken, f"{name}: checks that passed now fail: {broken}"


def test_every_registered_model_has_a_task_list():
    assert {registry.get(n).task for n in registry.names()} <= set(BY_TASK)
    assert set(EXTRA) <= set(registry.names())
