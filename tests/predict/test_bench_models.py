"""`siyu bench models` on a small simulated base (lifetimes left out: it needs its own virtualenv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from siyu.bench.models import ModelsOptions, _compare_cdnow, run
from siyu.predict.bgnbd import BGNBD
from siyu.predict.summary import CustomerSummary

from .conftest import CDNOW

SIYU = str(Path(sys.executable).parent / "siyu")


def test_figures_on_a_small_base() -> None:
    phases: list[str] = []
    figures = run(ModelsOptions(customers=20_000, cdnow=CDNOW, lifetimes=False, repeats=1), phases.append)
    assert phases[0] == "simulating customers" and "CDNOW fits" in phases
    assert figures["bgnbd_fit_s"] > 0 and figures["scoring_per_s"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["lifetimes_fit_s"] is None and figures["speedup_vs_lifetimes"] is None
    bg = figures["models"]["bgnbd"]
    assert bg["truth"] == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert all(abs(z) < 4 for z in bg["z"].values())
    assert figures["cdnow"]["bgnbd"]["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    assert figures["models"]["bgnbd"]["fit_cpu_s"] > 0
    assert figures["targets"]["bgnbd_fit_1m_le_10s"] is False  # not measured at 1M


def test_lifetimes_figures_are_compared_by_our_likelihood(cdnow: CustomerSummary) -> None:
    data, spend = cdnow.frequency_data(), cdnow.spend_data()
    ours = {
        "bgnbd": {
            "fit_s": 0.01,
            "fit_cpu_s": 0.01,
            "params": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
        }
    }
    theirs = {
        "bgnbd": {
            "fit_s": 0.1,
            "fit_cpu_s": 0.05,
            "params": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259 * 1.01},
        }
    }
    _compare_cdnow(ours, theirs, data, spend)
    entry = ours["bgnbd"]
    assert entry["speedup"] == 10.0 and entry["speedup_cpu"] == 5.0
    assert entry["max_relative_param_difference"] == pytest.approx(0.01)
    assert entry["log_likelihood_lifetimes_params"] == BGNBD(**theirs["bgnbd"]["params"]).log_likelihood(data)


@pytest.mark.slow
def test_command_prints_json() -> None:
    args = [SIYU, "bench", "models", "--customers", "3000", "--no-lifetimes", "--cdnow", str(CDNOW), "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = orjson.loads(done.stdout)
    for key in ("bgnbd_fit_s", "lifetimes_fit_s", "speedup_vs_lifetimes", "scoring_per_s", "peak_rss_mb"):
        assert key in figures
    assert figures["customers"] == 3000 and "cdnow" in figures
