"""Computes the expected `vexil experiment analyze --json` output for stats.json cases with GrowthBook's own gbstats.

Dev tool, not run by the tests: it writes cases.json, which analysis/test/gbstats-cases.test.ts compares against.
Usage (needs numpy, scipy, pydantic and a gbstats checkout; pandas is stubbed, these classes only name it in types):
    GBSTATS_SRC=/path/to/growthbook/packages/stats python3 oracle.py > cases.json
The mapping from stats.json to gbstats objects is the one reference/experiments.md section 14 pins.
"""
import json
import math
import os
import sys
import types

pandas_stub = types.ModuleType("pandas")
pandas_stub.DataFrame = pandas_stub.Series = type("Unused", (), {})
sys.modules["pandas"] = pandas_stub
sys.path.insert(0, os.environ.get("GBSTATS_SRC", "/tmp/gbsrc/packages/stats"))

import numpy as np  # noqa: E402
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior  # noqa: E402
from gbstats.frequentist.tests import (  # noqa: E402
    FrequentistConfig,
    OneSidedTreatmentGreaterTTest,
    OneSidedTreatmentLesserTTest,
    SequentialConfig,
    SequentialOneSidedTreatmentGreaterTTest,
    SequentialOneSidedTreatmentLesserTTest,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (  # noqa: E402
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm  # noqa: E402


def statistic(v, case):
    n = v["units"]
    kind = case["metric"]["type"]
    if kind == "ratio":
        return RatioStatistic(
            n=n,
            m_statistic=SampleMeanStatistic(n=n, sum=v["sum"], sum_squares=v["sumSquares"]),
            d_statistic=SampleMeanStatistic(n=n, sum=v["denominatorSum"], sum_squares=v["denominatorSumSquares"]),
            m_d_sum_of_products=v["sumProductWithDenominator"],
        )
    if kind == "binomial":
        post = ProportionStatistic(n=n, sum=v["sum"])
        pre = ProportionStatistic(n=n, sum=v.get("covariateSum", 0))
    else:
        post = SampleMeanStatistic(n=n, sum=v["sum"], sum_squares=v["sumSquares"])
        pre = SampleMeanStatistic(n=n, sum=v.get("covariateSum", 0), sum_squares=v.get("covariateSumSquares", 0))
    if not case.get("cuped"):
        return post
    return RegressionAdjustedStatistic(
        n=n, post_statistic=post, pre_statistic=pre, post_pre_sum_of_products=v["sumProductWithCovariate"], theta=None
    )


def configured_test(stats, case):
    # gbstats get_configured_test, for the settings stats.json carries.
    difference = case.get("difference", "relative")
    alpha = case.get("alpha", 0.05)
    inverse = case["metric"].get("inverse", False)
    if case.get("engine", "bayesian") == "frequentist":
        if case.get("sequential") is not None:
            config = SequentialConfig(
                difference_type=difference, alpha=alpha,
                sequential_tuning_parameter=case["sequential"].get("tuning", 5000),
            )
            if case.get("oneSided"):
                cls = SequentialOneSidedTreatmentGreaterTTest if inverse else SequentialOneSidedTreatmentLesserTTest
                return cls(stats, config)
            return SequentialTwoSidedTTest(stats, config)
        config = FrequentistConfig(difference_type=difference, alpha=alpha)
        if case.get("oneSided"):
            cls = OneSidedTreatmentGreaterTTest if inverse else OneSidedTreatmentLesserTTest
            return cls(stats, config)
        return TwoSidedTTest(stats, config)
    prior = case.get("prior")
    gaussian = (
        GaussianPrior(mean=prior.get("mean", 0), variance=prior.get("stddev", 0.3) ** 2, proper=True)
        if prior
        else GaussianPrior(mean=0, variance=0.09, proper=False)
    )
    return EffectBayesianABTest(
        stats,
        EffectBayesianConfig(difference_type=difference, alpha=alpha, inverse=inverse, prior_effect=gaussian, prior_type="relative"),
    )


def number(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def expected_output(case):
    stats = [statistic(v, case) for v in case["variations"]]
    out = []
    for i, (v, s) in enumerate(zip(case["variations"], stats)):
        shown = s.post_statistic if isinstance(s, RegressionAdjustedStatistic) else s
        row = {"name": v["name"], "units": v["units"], "mean": number(s.unadjusted_mean), "stdDev": number(shown.stddev)}
        if i > 0:
            test = configured_test([(stats[0], s)], case)
            r = test.compute_result()
            effect = {
                "expected": number(r.expected),
                "stdError": number(r.uplift.stddev),
                "ci": [number(r.ci[0]), number(r.ci[1])],
            }
            if hasattr(r, "chanceToWin"):
                effect["chanceToWin"] = number(r.chanceToWin)
                effect["risk"] = [number(r.risk[0]), number(r.risk[1])]
                error = r.errorMessage
            else:
                effect["pValue"] = number(r.pValue)
                error = r.errorMessage or r.pValueErrorMessage
            if error:
                effect["error"] = error
            row["effect"] = effect
        out.append(row)
    units = [v["units"] for v in case["variations"]]
    srm = check_srm(units, case.get("weights") or [1] * len(units)) if len(units) > 1 else 1
    return {"srm": {"pValue": number(srm)}, "variations": out}


def unit_data(rng, kind, n, shift, cuped):
    """Simulated per-unit values summarised into the sums stats.json carries."""
    v = {"units": int(n)}
    pre = rng.normal(10, 3, n) if kind == "mean" else (rng.random(n) < 0.3).astype(float)
    if kind == "binomial":
        y = (rng.random(n) < np.clip(0.3 * (1 + shift) + 0.3 * (pre - 0.3), 0, 1)).astype(float)
    elif kind == "mean":
        y = 0.8 * pre + rng.gamma(2.0, 2.5 * (1 + shift), n)
    else:
        d = rng.poisson(3, n).astype(float) + 1
        y = d * rng.gamma(2.0, 1.0 + shift, n)
        v.update(denominatorSum=float(d.sum()), denominatorSumSquares=float((d * d).sum()), sumProductWithDenominator=float((y * d).sum()))
    v.update(sum=float(y.sum()), sumSquares=float((y * y).sum()))
    if cuped:
        v.update(covariateSum=float(pre.sum()), covariateSumSquares=float((pre * pre).sum()), sumProductWithCovariate=float((y * pre).sum()))
    return v


def random_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(count):
        kind = ["binomial", "mean", "ratio"][k % 3]
        engine = ["frequentist", "bayesian"][(k // 3) % 2]
        case = {
            "metric": {"type": kind, "inverse": bool(rng.random() < 0.3)},
            "engine": engine,
            "difference": ["relative", "absolute"][(k // 6) % 2],
            "alpha": float(rng.choice([0.05, 0.05, 0.1, 0.01, 0.2])),
        }
        if engine == "frequentist":
            mode = (k // 12) % 4
            if mode in (1, 3):
                case["sequential"] = {} if rng.random() < 0.3 else {"tuning": float(rng.choice([1000, 5000, 20000]))}
            if mode in (2, 3):
                case["oneSided"] = True
        elif rng.random() < 0.5:
            case["prior"] = {"mean": float(rng.choice([0, 0.05, -0.1])), "stddev": float(rng.choice([0.3, 0.1, 0.05]))}
        cuped = kind != "ratio" and rng.random() < 0.35
        if cuped:
            case["cuped"] = True
        arms = int(rng.choice([2, 2, 3, 4]))
        base = int(rng.integers(50, 6000))
        case["variations"] = []
        for a in range(arms):
            n = int(base * rng.uniform(0.9, 1.1))
            shift = 0 if a == 0 else float(rng.normal(0.03, 0.05))
            case["variations"].append({"name": "control" if a == 0 else f"treatment-{a}", **unit_data(rng, kind, n, shift, cuped)})
        cases.append({"name": f"random {k}: {kind} {engine} {case['difference']}", "input": case})
    return cases


def extreme_cases(seed, count):
    """Sums straight from moments at large scales: millions of units, rare conversions, heavy-tailed revenue, strict alphas."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(count):
        kind = ["binomial", "mean", "ratio"][k % 3]
        engine = ["frequentist", "bayesian"][(k // 3) % 2]
        case = {
            "metric": {"type": kind, "inverse": bool(rng.random() < 0.3)},
            "engine": engine,
            "difference": str(rng.choice(["relative", "absolute"])),
            "alpha": float(rng.choice([0.001, 0.01, 0.05, 0.3])),
        }
        if engine == "frequentist":
            if rng.random() < 0.5:
                case["sequential"] = {"tuning": float(rng.choice([100, 5000, 1e6]))}
            if rng.random() < 0.5:
                case["oneSided"] = True
        elif rng.random() < 0.5:
            case["prior"] = {"mean": float(rng.normal(0, 0.1)), "stddev": float(rng.choice([0.01, 0.3, 3]))}
        if kind != "ratio" and rng.random() < 0.3:
            case["cuped"] = True
        rows = []
        base_rate = float(10 ** rng.uniform(-3.5, -0.3))
        for a in range(int(rng.choice([2, 3]))):
            n = int(10 ** rng.uniform(3, 7))
            lift = 1 + (0 if a == 0 else float(rng.normal(0, 0.05)))
            row = {"name": f"v{a}", "units": n}
            if kind == "binomial":
                conversions = float(rng.binomial(n, min(base_rate * lift, 1)))
                row.update(sum=conversions, sumSquares=conversions)
                pre = float(rng.binomial(n, base_rate))
                both = float(rng.binomial(int(min(pre, conversions)), 0.6))
                row.update(covariateSum=pre, covariateSumSquares=pre, sumProductWithCovariate=both)
            else:
                mean, sd = 50 * lift * base_rate * 100, 400 * base_rate * 100
                total = mean * n + rng.normal(0, sd * math.sqrt(n))
                row.update(sum=float(total), sumSquares=float((sd**2) * (n - 1) + total**2 / n))
                pre_mean, pre_sd, rho = 45 * base_rate * 100, 380 * base_rate * 100, float(rng.uniform(0, 0.9))
                pre_total = pre_mean * n
                row.update(covariateSum=pre_total, covariateSumSquares=float(pre_sd**2 * (n - 1) + pre_total**2 / n),
                           sumProductWithCovariate=float(rho * sd * pre_sd * (n - 1) + total * pre_total / n))
                if kind == "ratio":
                    d_mean, d_sd = 3.0, 2.0
                    d_total = d_mean * n
                    row.update(denominatorSum=d_total, denominatorSumSquares=d_sd**2 * (n - 1) + d_total**2 / n,
                               sumProductWithDenominator=float(0.5 * sd * d_sd * (n - 1) + total * d_total / n))
            rows.append(row)
        case["variations"] = rows
        cases.append({"name": f"extreme {k}: {kind} {engine} {case['difference']}", "input": case})
    return cases


def v(name, units, total, squares=None, **extra):
    row = {"name": name, "units": units, "sum": total}
    if squares is not None:
        row["sumSquares"] = squares
    row.update(extra)
    return row


A = v("control", 3407, 1396.87, 52377.9767)
B = v("treatment", 3461, 2422.7, 134698.29)
A3000 = v("control", 3000, 1396.87, 52377.9767)


def named_cases():
    mean = {"type": "mean"}
    binomial = {"type": "binomial"}
    return [
        ("upstream 1: two-sided t, relative", {"metric": mean, "engine": "frequentist", "difference": "relative", "variations": [A, B]}),
        ("upstream 2: two-sided t, absolute", {"metric": mean, "engine": "frequentist", "difference": "absolute", "variations": [A, B]}),
        ("upstream 3: binomial two-sided", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 28, 14), v("t", 30, 16)]}),
        ("upstream 4: sequential N*=1000", {"metric": mean, "engine": "frequentist", "sequential": {"tuning": 1000}, "variations": [A3000, B]}),
        ("upstream 5: sequential binomial", {"metric": binomial, "engine": "frequentist", "sequential": {}, "variations": [v("c", 3000, 1396), v("t", 3461, 2422)]}),
        ("upstream 6: bayesian binomial flat", {"metric": binomial, "engine": "bayesian", "variations": [v("c", 100, 49), v("t", 100, 51)]}),
        ("upstream 7: bayesian mean flat", {"metric": mean, "engine": "bayesian", "variations": [v("c", 10, 100, 1002.25), v("t", 10, 105, 1111.5)]}),
        ("upstream 8: bayesian proper prior", {"metric": mean, "engine": "bayesian", "prior": {"mean": 0.1, "stddev": math.sqrt(0.1)}, "variations": [v("c", 10, 100, 1002.25), v("t", 10, 105, 1111.5)]}),
        ("upstream one-sided lesser (non-inverse)", {"metric": mean, "engine": "frequentist", "oneSided": True, "variations": [A3000, B]}),
        ("upstream one-sided greater (inverse), absolute", {"metric": {"type": "mean", "inverse": True}, "engine": "frequentist", "oneSided": True, "difference": "absolute", "variations": [A3000, B]}),
        ("upstream sequential one-sided greater, absolute", {"metric": {"type": "mean", "inverse": True}, "engine": "frequentist", "oneSided": True, "sequential": {}, "difference": "absolute", "variations": [A3000, B]}),
        ("upstream sequential one-sided lesser", {"metric": mean, "engine": "frequentist", "oneSided": True, "sequential": {}, "variations": [A3000, B]}),
        ("upstream sequential CUPED", {"metric": mean, "engine": "frequentist", "sequential": {}, "cuped": True, "variations": [
            {**A3000, "covariateSum": 16.87, "covariateSumSquares": 527.9767, "sumProductWithCovariate": 1},
            {**B, "covariateSum": 22.7, "covariateSumSquares": 1348.29, "sumProductWithCovariate": 1}]}),
        ("degenerate: control with no units", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 0, 0), v("t", 100, 10)]}),
        ("degenerate: no conversions in control (relative)", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 100, 0), v("t", 100, 10)]}),
        ("degenerate: no conversions in control (bayesian)", {"metric": binomial, "engine": "bayesian", "variations": [v("c", 100, 0), v("t", 100, 10)]}),
        ("degenerate: control mean 0 with spread, relative", {"metric": mean, "engine": "frequentist", "variations": [v("c", 100, 0, 50), v("t", 100, 10, 60)]}),
        ("degenerate: control mean 0 with spread, absolute", {"metric": mean, "engine": "frequentist", "difference": "absolute", "variations": [v("c", 100, 0, 50), v("t", 100, 10, 60)]}),
        ("degenerate: control mean 0, absolute, proper prior", {"metric": mean, "engine": "bayesian", "difference": "absolute", "prior": {"mean": 0, "stddev": 0.3}, "variations": [v("c", 100, 0, 50), v("t", 100, 10, 60)]}),
        ("degenerate: one unit per arm", {"metric": mean, "engine": "frequentist", "variations": [v("c", 1, 5, 25), v("t", 1, 6, 36)]}),
        ("degenerate: zero variance treatment", {"metric": mean, "engine": "bayesian", "variations": [v("c", 50, 100, 300), v("t", 50, 100, 200)]}),
        ("degenerate: sequential one-sided with alpha 0.6", {"metric": mean, "engine": "frequentist", "oneSided": True, "sequential": {}, "alpha": 0.6, "variations": [A3000, B]}),
        ("negative control mean, relative", {"metric": mean, "engine": "frequentist", "variations": [v("c", 400, -800, 4000), v("t", 400, -700, 3600)]}),
        ("inverse bayesian with prior, absolute", {"metric": {"type": "binomial", "inverse": True}, "engine": "bayesian", "difference": "absolute", "prior": {"mean": 0, "stddev": 0.3}, "variations": [v("c", 5000, 400), v("t", 5000, 460)]}),
        ("huge effect: risk limit", {"metric": binomial, "engine": "bayesian", "variations": [v("c", 100000, 1000), v("t", 100000, 3000)]}),
        ("huge effect: two-sided p underflows", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 100000, 1000), v("t", 100000, 3000)]}),
        ("SRM 52/48 with 3 arms", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 5200, 500), v("t", 4800, 470), v("u", 5000, 480)]}),
        ("SRM against weights 80/20", {"metric": binomial, "engine": "frequentist", "weights": [80, 20], "variations": [v("c", 8000, 500), v("t", 2100, 140)]}),
        ("SRM no units at all", {"metric": binomial, "engine": "frequentist", "variations": [v("c", 0, 0), v("t", 0, 0)]}),
        ("CUPED binomial", {"metric": binomial, "engine": "frequentist", "cuped": True, "variations": [
            v("c", 2000, 600, covariateSum=580, sumProductWithCovariate=400), v("t", 2000, 660, covariateSum=590, sumProductWithCovariate=430)]}),
        ("CUPED with constant covariate falls back", {"metric": mean, "engine": "frequentist", "cuped": True, "variations": [
            v("c", 100, 500, 3000, covariateSum=100, covariateSumSquares=100, sumProductWithCovariate=500),
            v("t", 100, 550, 3500, covariateSum=100, covariateSumSquares=100, sumProductWithCovariate=550)]}),
        ("ratio with zero denominator in control", {"metric": {"type": "ratio"}, "engine": "frequentist", "variations": [
            v("c", 100, 0, 0, denominatorSum=0, denominatorSumSquares=0, sumProductWithDenominator=0),
            v("t", 100, 50, 80, denominatorSum=120, denominatorSumSquares=200, sumProductWithDenominator=90)]}),
    ] + [
        (f"sequential one-sided bisection at scale {scale:g}", {"metric": {"type": "mean", "inverse": True}, "engine": "frequentist", "difference": "absolute", "oneSided": True, "sequential": {}, "variations": [
            v("c", 3000, 0.47 * 3000 * scale, 3000 * (0.47**2 + 4) * scale**2), v("t", 3000, 0.7 * 3000 * scale, 3000 * (0.7**2 + 4) * scale**2)]})
        for scale in (1, 1e3, 1e11, 1e13)
    ] + [
        ("sequential one-sided lesser finds harm", {"metric": {"type": "binomial"}, "engine": "frequentist", "oneSided": True, "sequential": {"tuning": 2000}, "variations": [v("c", 4000, 1200), v("t", 4000, 1080)]}),
        ("one-sided lesser finds harm, alpha 0.1", {"metric": {"type": "binomial"}, "engine": "frequentist", "oneSided": True, "alpha": 0.1, "variations": [v("c", 4000, 1200), v("t", 4000, 1150)]}),
        ("single variation: only the control and SRM 1", {"metric": {"type": "binomial"}, "engine": "frequentist", "variations": [v("c", 4000, 1200)]}),
    ]


if __name__ == "__main__":
    cases = [{"name": name, "input": case} for name, case in named_cases()] + random_cases(20261203, 240) + extreme_cases(7, 120)
    for c in cases:
        c["expected"] = expected_output(c["input"])
    # One case per line: small, and a diff shows which cases changed.
    header = json.dumps("gbstats (growthbook @8f1db44, pyproject 0.8.0) via oracle.py; scipy " + __import__("scipy").__version__)
    sys.stdout.write('{"generatedBy": ' + header + ', "cases": [\n')
    sys.stdout.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
    sys.stdout.write("\n]}\n")
