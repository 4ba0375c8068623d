"""The paired test in the champion comparison: exact McNemar on the golden rows."""

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import binomtest

from mlopslab.config import GateConfig
from mlopslab.evaluate import GateDecision, add_checks
from mlopslab.significance import PairedTest, mcnemar, significance_check


def predictions(
    both: int, candidate: int, champion: int, neither: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth and two models' answers with the given agreement counts."""
    truth = np.array(["a"] * (both + candidate + champion + neither))
    new = np.array(
        ["a"] * both + ["a"] * candidate + ["b"] * champion + ["b"] * neither
    )
    old = np.array(
        ["a"] * both + ["b"] * candidate + ["a"] * champion + ["c"] * neither
    )
    return truth, new, old


def test_mcnemar_counts_the_disagreements_only() -> None:
    test = mcnemar(*predictions(both=50, candidate=6, champion=0, neither=4))
    assert (test.rows, test.candidate_only, test.champion_only) == (60, 6, 0)
    assert test.p_value == pytest.approx(2 * 0.5**6)  # 0.03125, two-sided


@pytest.mark.parametrize(("b", "c"), [(7, 2), (2, 7), (10, 9), (1, 0), (30, 12)])
def test_mcnemar_is_the_exact_binomial_test(b: int, c: int) -> None:
    test = mcnemar(*predictions(both=20, candidate=b, champion=c, neither=3))
    assert (test.candidate_only, test.champion_only) == (b, c)
    assert test.p_value == pytest.approx(binomtest(b, b + c, 0.5).pvalue)


def test_mcnemar_without_disagreement_is_p_one() -> None:
    test = mcnemar(*predictions(both=10, candidate=0, champion=0, neither=5))
    assert (test.candidate_only, test.champion_only, test.p_value) == (0, 0, 1.0)


def test_mcnemar_compares_labels_as_text() -> None:
    truth = np.array([1, 2, 3, 1])
    test = mcnemar(truth, np.array(["1", "2", "3", "2"]), np.array([1, 1, 3, 1]))
    assert (test.candidate_only, test.champion_only) == (1, 1)


def test_not_required_it_informs_and_passes() -> None:
    check = significance_check(PairedTest(69, 1, 3, 0.625), False, 0.05, "4")
    assert check["check"] == "champion:significance"
    assert check["passed"] is True
    assert check["reason"] == (
        "paired test on 69 golden rows: right where champion v4 is wrong on "
        "1 row, wrong where it is right on 3 rows; not significant (p = 0.625), "
        "exact McNemar (informative: gate.require_significance is off)"
    )
    assert check["paired_test"] == {
        "rows": 69,
        "candidate_only": 1,
        "champion_only": 3,
        "p_value": 0.625,
    }


def test_required_it_passes_only_a_significant_gain() -> None:
    gain = mcnemar(*predictions(both=60, candidate=6, champion=0, neither=3))
    check = significance_check(gain, True, 0.05, "2")
    assert check["passed"] is True
    assert "significant (p = 0.0312 < 0.05), exact McNemar" in check["reason"]
    assert "informative" not in check["reason"]
    # One row fewer is p = 0.0625: not enough at 0.05, enough at 0.1.
    smaller = mcnemar(*predictions(both=60, candidate=5, champion=0, neither=3))
    refused = significance_check(smaller, True, 0.05, "2")
    assert refused["passed"] is False
    assert "not significant (p = 0.0625)" in refused["reason"]
    assert significance_check(smaller, True, 0.1, "2")["passed"] is True


@pytest.mark.parametrize(("b", "c"), [(0, 12), (3, 3), (0, 0)])
def test_required_it_fails_when_the_candidate_is_not_ahead(b: int, c: int) -> None:
    test = mcnemar(*predictions(both=40, candidate=b, champion=c, neither=0))
    check = significance_check(test, True, 0.05, None)
    assert check["passed"] is False
    assert f"not significant (p = {test.p_value:.3g})" in check["reason"]
    assert "right where the champion is wrong" in check["reason"]


def decision(approved: bool) -> GateDecision:
    checks = [{"check": "accuracy", "passed": approved, "reason": "accuracy reason"}]
    return GateDecision(approved, ["accuracy reason"], "1", {"accuracy": 0.9}, checks)


def test_add_checks_must_all_pass_too() -> None:
    failing = {"check": "champion:significance", "passed": False, "reason": "no"}
    passing = {"check": "fairness", "passed": True, "reason": "yes"}
    both = add_checks(decision(True), [passing, failing])
    assert both.approved is False and both.verdict == "rejected"
    assert both.reasons == ["accuracy reason", "yes", "no"]
    assert [c["check"] for c in both.checks] == [
        "accuracy",
        "fairness",
        "champion:significance",
    ]
    assert (both.champion_version, both.champion_metrics) == ("1", {"accuracy": 0.9})
    assert add_checks(decision(True), [passing]).approved is True
    # A passing check never rescues a rejected decision.
    assert add_checks(decision(False), [passing]).approved is False
    unchanged = decision(True)
    assert add_checks(unchanged, []) is unchanged


def test_the_gate_config_for_significance() -> None:
    gate = GateConfig()
    assert (gate.require_significance, gate.significance) == (False, 0.05)
    assert GateConfig(require_significance=True, significance=0.01).significance == 0.01
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValidationError):
            GateConfig(significance=bad)


def test_the_majority_floor_needs_more_than_the_class_balance() -> None:
    from mlopslab.significance import majority_check

    truth = np.array(["no"] * 60 + ["yes"] * 40)
    always_no = np.array(["no"] * 100, dtype="<U3")
    flat = majority_check(truth, always_no, "no", 0.05)
    assert not flat["passed"]
    assert flat["reason"].startswith(
        "accuracy 0.6000 does not beat the majority-class baseline 0.6000 "
        "(always 'no') on 100 golden rows"
    )
    # Right on 30 of the 40 minority rows, wrong on 5 majority rows: b=30, c=5.
    good = always_no.copy()
    good[60:90] = "yes"
    good[:5] = "yes"
    found = majority_check(truth, good, "no", 0.05)
    assert found["passed"] and found["paired_test"]["candidate_only"] == 30
    assert "accuracy 0.8500 beats the majority-class baseline 0.6000" in found["reason"]
    # Barely better is not enough: one row more is chance.
    one = always_no.copy()
    one[60] = "yes"
    assert not majority_check(truth, one, "no", 0.05)["passed"]
