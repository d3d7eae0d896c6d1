"""Fitting the answer confidence: a logistic model of the signals, and a bar per precision."""

from __future__ import annotations

import numpy as np

from classifiers.evaluation.answers import fit_calibration


def test_the_fitted_bar_gives_the_precision_asked_for_on_the_data_it_was_fitted_on() -> None:
    rng = np.random.default_rng(0)
    similarity = rng.uniform(0.2, 0.9, 2000)
    noise = rng.uniform(0.0, 1.0, 2000)
    right = rng.uniform(0.0, 1.0, 2000) < similarity  # likelier right the closer the match
    signals = np.column_stack([similarity, noise])
    calibration = fit_calibration(signals.tolist(), right.tolist(), precisions=(0.7, 0.8))
    bias, w_similarity, w_noise = calibration.coefficients
    assert w_similarity > 3 and abs(w_noise) < 1
    sure = 1 / (1 + np.exp(-(bias + signals @ np.array([w_similarity, w_noise]))))
    pairs = dict(calibration.precision_thresholds)
    assert pairs[0.7] <= pairs[0.8] < pairs[1.0] == 1.0
    for precision in (0.7, 0.8):
        answered = sure >= pairs[precision]
        assert right[answered].mean() >= precision
        assert answered.sum() > 100  # and it does answer


def test_with_groups_every_group_reaches_the_precision_on_its_own() -> None:
    rng = np.random.default_rng(1)
    similarity = rng.uniform(0.2, 0.9, 4000)
    group = np.repeat([0, 1], 2000)
    # the second knowledge base is worse: the same closeness is right less often
    right = rng.uniform(0.0, 1.0, 4000) < similarity - 0.15 * group
    signals = similarity[:, None].tolist()
    pooled = dict(fit_calibration(signals, right.tolist(), precisions=(0.7,)).precision_thresholds)
    calibration = fit_calibration(signals, right.tolist(), precisions=(0.7,), groups=group.tolist())
    bias, weight = calibration.coefficients
    sure = 1 / (1 + np.exp(-(bias + weight * similarity)))
    bar = dict(calibration.precision_thresholds)[0.7]
    assert bar > pooled[0.7]
    for g in (0, 1):
        answered = (sure >= bar) & (group == g)
        assert right[answered].mean() >= 0.7 and answered.sum() > 100
