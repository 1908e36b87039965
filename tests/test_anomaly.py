"""Anomaly detection: the first non-finite value or gradient is reported where it was made."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Tensor


def test_off_by_default_and_nothing_recorded() -> None:
    assert not ag.is_anomaly_enabled()
    y = Tensor(np.ones(2), requires_grad=True).exp()
    assert y._site is None


def test_forward_nan_names_op_site_and_shapes() -> None:
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError) as info:
        y = x * 2
        y.log()  # log(-2) is NaN
    message = str(info.value)
    assert "'log'" in message and "test_anomaly.py" in message and "(2,)" in message
    assert "from finite inputs" in message


def test_non_finite_leaf_input_is_named() -> None:
    x = Tensor(np.array([1.0, np.inf]))
    w = Tensor(np.ones(2), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError, match=r"input 0 of 'multiply'.*leaf"):
        x * w


def test_backward_nan_names_op_and_input() -> None:
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with ag.detect_anomaly():
        loss = x.sqrt().sum()  # finite forward, infinite gradient at 0
        with pytest.raises(ag.AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert "backward of 'sqrt'" in message and "input 0" in message and "test_anomaly.py" in message
    assert x.grad is None  # nothing half-written into .grad


def test_no_warnings_leak_inside_anomaly_mode() -> None:
    # pytest turns RuntimeWarning into errors here: our error must come first.
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError):
        Tensor(np.array([0.0]), requires_grad=True).log()


def test_clean_run_matches_normal_mode() -> None:
    x = Tensor(np.array([0.5, 2.0]), requires_grad=True)
    (x.log() * x).sum().backward()
    expected = x.grad.copy()
    x.grad = None
    with ag.detect_anomaly():
        (x.log() * x).sum().backward()
    np.testing.assert_array_equal(x.grad, expected)
    assert not ag.is_anomaly_enabled()  # restored on exit
