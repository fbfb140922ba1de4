"""Churn classifier: a known signal is found (high AUC, calibrated), pure noise is not (AUC ≈ 0.5), and
too little data is refused with the field named."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.core.errors import ValidationFailed
from siyu.predict.churn import reliability, train

FEATURES = ["recency", "frequency", "noise"]


def simulated(n: int, seed: int, *, signal: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features and a label; with `signal`, P(no purchase) = logistic(1.5·recency - 1.2·frequency)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[rng.random(n) < 0.05, 0] = np.nan  # some customers without the feature
    logit = 1.5 * np.nan_to_num(X[:, 0]) - 1.2 * X[:, 1] if signal else np.zeros(n)
    truth = 1 / (1 + np.exp(-logit))
    return X, (rng.random(n) < truth).astype(np.int64), truth


def test_known_signal_is_found_and_calibrated() -> None:
    X, y, truth = simulated(6000, 1, signal=True)
    model = train(X, y, FEATURES, seed=0, max_iter=60)
    report = model.report
    assert report.auc > 0.8
    assert report.calibration_method == "isotonic"
    assert report.train_customers == 4500 and report.test_customers == 1500
    # the best possible Brier score here is E[p(1-p)]; a calibrated model gets close
    assert report.brier < float(np.mean(truth * (1 - truth))) + 0.02
    for b in report.reliability:
        if b.customers >= 100:
            assert b.observed == pytest.approx(b.predicted, abs=0.08)
    risk = model.risk(X[:500])
    assert risk.min() >= 0 and risk.max() <= 1
    assert np.corrcoef(risk, truth[:500])[0, 1] > 0.85


def test_baseline_is_scored_on_the_same_held_out_customers() -> None:
    X, y, truth = simulated(4000, 6, signal=True)
    report = train(X, y, FEATURES, seed=0, max_iter=40, baseline=truth).report
    # the true probabilities are the best possible score: the trees come close, never far above
    assert report.baseline_auc is not None and report.baseline_auc > 0.8
    assert report.auc < report.baseline_auc + 0.02
    assert train(X, y, FEATURES, seed=0, max_iter=5).report.baseline_auc is None


def test_no_signal_control_gives_auc_near_one_half() -> None:
    X, y, _ = simulated(6000, 2, signal=False)
    report = train(X, y, FEATURES, seed=0, max_iter=60).report
    assert abs(report.auc - 0.5) < 0.05
    assert report.base_rate == pytest.approx(0.5, abs=0.03)
    assert report.brier == pytest.approx(0.25, abs=0.01)


def test_small_data_uses_sigmoid_and_max_train_caps_training() -> None:
    X, y, _ = simulated(800, 3, signal=True)
    report = train(X, y, FEATURES, seed=0, max_iter=30).report
    assert report.calibration_method == "sigmoid" and report.train_customers == 600
    capped = train(X, y, FEATURES, seed=0, max_iter=30, max_train=300).report
    assert capped.train_customers == 300 and capped.test_customers == 200


def test_one_class_or_misaligned_input_is_refused() -> None:
    X = np.zeros((100, 3))
    with pytest.raises(ValidationFailed) as one_class:
        train(X, np.ones(100), FEATURES)
    assert one_class.value.field == "labels"
    with pytest.raises(ValidationFailed) as misaligned:
        train(X, np.ones(99), FEATURES)
    assert misaligned.value.field == "features"
    model = train(*simulated(400, 4, signal=True)[:2], FEATURES, max_iter=10)
    with pytest.raises(ValidationFailed):
        model.risk(np.zeros((2, 2)))


def test_reliability_table_by_hand() -> None:
    bins = reliability([1, 0, 1, 1], np.array([0.05, 0.15, 0.95, 0.91]))
    assert [(b.low, b.customers, b.observed) for b in bins] == [(0.0, 1, 1.0), (0.1, 1, 0.0), (0.9, 2, 1.0)]
    assert bins[2].predicted == pytest.approx(0.93)
