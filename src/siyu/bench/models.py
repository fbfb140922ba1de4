"""`siyu bench models`: fit time, memory and scoring throughput of BG/NBD, Pareto/NBD and Gamma-Gamma on
simulated customers with known parameters, and the same fits timed against lifetimes in its own venv.

lifetimes is never a siyu dependency: it is installed into `--venv` (default var/bench-venv) on first use.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psutil

from siyu.bench.ingest import _code_version
from siyu.predict import bgnbd, gamma_gamma, pareto_nbd
from siyu.predict.cdnow import CALIBRATION_END, load_cdnow
from siyu.predict.data import FrequencyData, SpendData
from siyu.predict.simulate import simulate_bgnbd, simulate_pareto_nbd, simulate_spend
from siyu.predict.summary import rfm_summary

# CDNOW's published fits, so the simulated base looks like a real one (time in weeks)
TRUE_BG = bgnbd.BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
TRUE_PN = pareto_nbd.ParetoNBD(r=0.553, alpha=10.578, s=0.606, beta=11.669)
TRUE_GG = gamma_gamma.GammaGamma(p=6.25, q=3.74, gamma=15.44)
HORIZON_WEEKS = 52.0  # scoring: P(alive) and expected purchases over the next year
LIFETIMES = "lifetimes==0.11.3"
T = TypeVar("T")


@dataclass(frozen=True)
class ModelsOptions:
    customers: int
    seed: int = 7
    cdnow: Path | None = None  # CDNOW_sample.txt; None skips the side-by-side on real data
    lifetimes: bool = True
    lifetimes_customers: int | None = None  # simulated customers lifetimes fits (default: all)
    venv: Path = Path("var/bench-venv")
    repeats: int = 5  # CDNOW fits are timed this many times; the median is reported


class _PeakRss:
    """Samples this process's RSS every 5 ms while a stage runs."""

    def __init__(self) -> None:
        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    @contextmanager
    def watch(self) -> Iterator[None]:
        self.peak, self._stop = self.process.memory_info().rss, threading.Event()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)


def _timed(work: Callable[[], T], rss: _PeakRss) -> tuple[T, float, float, float]:
    """(result, wall seconds, CPU seconds of this process, peak RSS in MB): on a shared host the CPU
    seconds show the work done, the wall seconds what a user waited."""
    with rss.watch():
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return result, seconds, cpu, rss.peak / 2**20


def _params(model: object) -> dict[str, float]:
    return {k: float(v) for k, v in vars(model).items()}


def _recovery(truth: object, fitted: object, errors: dict[str, float]) -> dict[str, Any]:
    want, got = _params(truth), _params(fitted)
    rel = {k: got[k] / want[k] - 1 for k in want}
    return {
        "truth": want,
        "fitted": got,
        "relative_error": rel,
        "max_abs_relative_error": max(abs(v) for v in rel.values()),
        "z": {k: (got[k] - want[k]) / errors[k] for k in want},
    }


def _stage(
    fit: Callable[[], Any], errors: Callable[[Any], dict[str, float]], truth: object, rss: _PeakRss
) -> tuple[Any, dict[str, Any]]:
    """Fit once, timed and watched; then the parameter recovery with its standard errors."""
    fitted, seconds, cpu, peak = _timed(fit, rss)
    entry = {
        "fit_s": round(seconds, 3),
        "fit_cpu_s": round(cpu, 3),
        "peak_rss_mb": round(peak, 1),
        "log_likelihood": fitted.log_likelihood,
    }
    entry |= {"iterations": fitted.iterations, "converged": fitted.converged}
    return fitted, entry | _recovery(truth, fitted.model, errors(fitted.model))


def run(options: ModelsOptions, show: Callable[[str], None]) -> dict[str, Any]:
    rss, n = _PeakRss(), options.customers
    load_before = os.getloadavg()[0]
    ages = np.random.default_rng(options.seed).integers(1, 366, n) / 7  # first purchases over a year
    show("simulating customers")
    bg_data = simulate_bgnbd(TRUE_BG, ages, options.seed + 1, steps=7)
    pn_data = simulate_pareto_nbd(TRUE_PN, ages, options.seed + 2, steps=7)
    spend = simulate_spend(TRUE_GG, bg_data.x[bg_data.x > 0], options.seed + 3)
    show("fitting BG/NBD")
    bg, bg_entry = _stage(
        lambda: bgnbd.fit(bg_data), lambda m: bgnbd.parameter_errors(m, bg_data), TRUE_BG, rss
    )
    bg_entry["distinct_rows"] = int(bg_data.grouped().x.shape[0])
    show("fitting Pareto/NBD")
    pn, pn_entry = _stage(
        lambda: pareto_nbd.fit(pn_data), lambda m: pareto_nbd.parameter_errors(m, pn_data), TRUE_PN, rss
    )
    show("fitting Gamma-Gamma")
    _, gg_entry = _stage(
        lambda: gamma_gamma.fit(spend), lambda m: gamma_gamma.parameter_errors(m, spend), TRUE_GG, rss
    )
    gg_entry["customers"] = int(spend.x.shape[0])
    show("scoring")
    scoring = {
        "bgnbd": _scoring(lambda: _score(bg.model, bg_data), n, rss),
        "pareto_nbd": _scoring(lambda: _score(pn.model, pn_data), n, rss),
    }
    figures: dict[str, Any] = {
        "customers": n,
        "seed": options.seed,
        "bgnbd_fit_s": bg_entry["fit_s"],
        "pareto_nbd_fit_s": pn_entry["fit_s"],
        "gamma_gamma_fit_s": gg_entry["fit_s"],
        "scoring_per_s": scoring["bgnbd"]["customers_per_s"],
        "lifetimes_fit_s": None,
        "speedup_vs_lifetimes": None,
        "models": {"bgnbd": bg_entry, "pareto_nbd": pn_entry, "gamma_gamma": gg_entry},
        "scoring": scoring,
    }
    cdnow = None
    if options.cdnow is not None:
        show("CDNOW fits")
        figures["cdnow"], *arrays = _cdnow(options.cdnow, options.repeats)
        cdnow = (figures["cdnow"], *arrays)
    if options.lifetimes:
        figures |= _against_lifetimes(
            options, cdnow, bg_data, bg, (bg_entry["fit_s"], bg_entry["fit_cpu_s"]), show
        )
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["host"] = {
        "cpus": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
        "siyu": _code_version(),
        "numpy": np.__version__,
    }
    figures["targets"] = {
        "bgnbd_fit_1m_le_10s": n >= 1_000_000 and bg_entry["fit_s"] <= 10,
        "speedup_ge_5x": (figures["speedup_vs_lifetimes"] or 0) >= 5,
        "scoring_ge_1m_per_s": figures["scoring_per_s"] >= 1_000_000,
    }
    return figures


def _score(model: bgnbd.BGNBD | pareto_nbd.ParetoNBD, data: FrequencyData) -> None:
    model.predict(HORIZON_WEEKS, data)  # P(alive) and the expected purchases of every customer


def _scoring(work: Callable[[], None], n: int, rss: _PeakRss) -> dict[str, float]:
    runs = [_timed(work, rss)[1] for _ in range(3)]
    median = statistics.median(runs)
    return {
        "median_s": round(median, 3),
        "customers_per_s": round(n / median),
        "peak_rss_mb": round(rss.peak / 2**20, 1),
    }


def _cdnow(path: Path, repeats: int) -> tuple[dict[str, Any], FrequencyData, SpendData]:
    """Our three fits on the CDNOW sample, each timed `repeats` times (median)."""
    summary = rfm_summary(
        load_cdnow(path), customer="customer", date="date", amount="amount", calibration_end=CALIBRATION_END
    )
    data, spend = summary.frequency_data(), summary.spend_data()
    fits: dict[str, Callable[[], Any]] = {
        "bgnbd": lambda: bgnbd.fit(data),
        "pareto_nbd": lambda: pareto_nbd.fit(data),
        "gamma_gamma": lambda: gamma_gamma.fit(spend),
    }
    out: dict[str, Any] = {}
    for name, work in fits.items():
        times, result = [], None
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            result = work()
            times.append((time.perf_counter() - started, time.process_time() - cpu))
        out[name] = {
            "fit_s": round(statistics.median(t[0] for t in times), 4),
            "fit_cpu_s": round(statistics.median(t[1] for t in times), 4),
            "params": _params(result.model),  # type: ignore[union-attr]
        }
        out[name]["log_likelihood"] = result.log_likelihood  # type: ignore[union-attr]
    return out, data, spend


def lifetimes_python(venv: Path) -> Path:
    """The venv's interpreter, creating the venv and installing lifetimes into it when needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)  # noqa: S603
    probe = subprocess.run([python, "-c", "import lifetimes"], capture_output=True, timeout=120, check=False)  # noqa: S603
    if probe.returncode != 0:
        install = [str(python), "-m", "pip", "install", "--quiet", LIFETIMES]
        subprocess.run(install, check=True, timeout=1200)  # noqa: S603
    return python


LIFETIMES_SCRIPT = r"""
import json, resource, statistics, sys, time
import numpy as np, lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

arrays, repeats = np.load(sys.argv[1]), int(sys.argv[2])
out = {"version": lifetimes.__version__, "numpy": np.__version__}

def timed(make, args, times):
    spent = []
    for _ in range(times):
        started, cpu = time.perf_counter(), time.process_time()
        fitter = make().fit(*args)
        spent.append((time.perf_counter() - started, time.process_time() - cpu))
    return {
        "fit_s": statistics.median(s[0] for s in spent),
        "fit_cpu_s": statistics.median(s[1] for s in spent),
        "params": {k: float(v) for k, v in fitter.params_.items()},
    }

if "cd_x" in arrays:
    rfm = (arrays["cd_x"], arrays["cd_tx"], arrays["cd_T"])
    out["cdnow"] = {
        "bgnbd": timed(BetaGeoFitter, rfm, repeats),
        "pareto_nbd": timed(ParetoNBDFitter, rfm, repeats),
        "gamma_gamma": timed(GammaGammaFitter, (arrays["cd_sx"], arrays["cd_m"]), repeats),
    }
if "sim_x" in arrays:
    out["simulated_bgnbd"] = timed(BetaGeoFitter, (arrays["sim_x"], arrays["sim_tx"], arrays["sim_T"]), 1)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""
RENAME = {"gamma_gamma": {"v": "gamma"}}  # lifetimes calls Gamma-Gamma's γ "v"


def _against_lifetimes(
    options: ModelsOptions,
    cdnow: tuple[dict[str, Any], FrequencyData, SpendData] | None,
    simulated: FrequencyData,
    ours: bgnbd.BGNBDFit,
    ours_s: tuple[float, float],
    show: Callable[[str], None],
) -> dict[str, Any]:
    """lifetimes on the same CDNOW arrays and the same simulated customers, BLAS on one thread for both."""
    show("preparing lifetimes' virtualenv")
    python = lifetimes_python(options.venv)
    n = min(options.lifetimes_customers or simulated.x.shape[0], simulated.x.shape[0])
    subset = FrequencyData(simulated.x[:n], simulated.t_x[:n], simulated.T[:n])
    if n < simulated.x.shape[0]:
        started, cpu = time.perf_counter(), time.process_time()
        ours = bgnbd.fit(subset)
        ours_s = (time.perf_counter() - started, time.process_time() - cpu)
    arrays = {"sim_x": subset.x, "sim_tx": subset.t_x, "sim_T": subset.T}
    if cdnow is not None:
        _, data, spend = cdnow
        arrays |= {"cd_x": data.x, "cd_tx": data.t_x, "cd_T": data.T, "cd_sx": spend.x, "cd_m": spend.m_x}
    show(f"lifetimes fitting (CDNOW and {n:,} simulated customers)")
    with tempfile.TemporaryDirectory(prefix="siyu-bench-") as folder:
        path = Path(folder) / "arrays.npz"
        np.savez(path, **arrays)  # type: ignore[arg-type]
        env = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        command = [str(python), "-c", LIFETIMES_SCRIPT, str(path), str(options.repeats)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"lifetimes failed:\n{done.stderr[-2000:]}")
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    if cdnow is not None:
        _compare_cdnow(cdnow[0], theirs["cdnow"], data, spend)
    their_bg = theirs["simulated_bgnbd"]
    their_model = bgnbd.BGNBD(**their_bg["params"])
    return {
        "lifetimes_fit_s": round(their_bg["fit_s"], 3),
        "speedup_vs_lifetimes": round(their_bg["fit_s"] / ours_s[0], 1),
        "lifetimes": {
            "version": theirs["version"],
            "venv": str(options.venv),
            "peak_rss_mb": round(theirs["peak_rss_mb"], 1),
            "simulated_bgnbd": {
                "customers": n,
                "ours_fit_s": round(ours_s[0], 3),
                "lifetimes_fit_s": round(their_bg["fit_s"], 3),
                "ours_fit_cpu_s": round(ours_s[1], 3),
                "lifetimes_fit_cpu_s": round(their_bg["fit_cpu_s"], 3),
                "speedup_cpu": round(their_bg["fit_cpu_s"] / ours_s[1], 1),
                "ours": _params(ours.model),
                "lifetimes": their_bg["params"],
                "max_relative_param_difference": _max_rel(_params(ours.model), their_bg["params"]),
                "log_likelihood_ours": ours.log_likelihood,
                "log_likelihood_lifetimes_params": their_model.log_likelihood(subset.grouped()),
            },
        },
    }


def _compare_cdnow(
    ours: dict[str, Any], theirs: dict[str, Any], data: FrequencyData, spend: SpendData
) -> None:
    """Adds lifetimes' figures to each CDNOW model, with its parameters' log-likelihood by our formula."""
    models = {"bgnbd": bgnbd.BGNBD, "pareto_nbd": pareto_nbd.ParetoNBD, "gamma_gamma": gamma_gamma.GammaGamma}
    for name, entry in ours.items():
        params = {RENAME.get(name, {}).get(k, k): v for k, v in theirs[name]["params"].items()}
        model = models[name](**params)
        entry["lifetimes_fit_s"] = round(theirs[name]["fit_s"], 4)
        entry["speedup"] = round(theirs[name]["fit_s"] / entry["fit_s"], 1)
        entry["lifetimes_fit_cpu_s"] = round(theirs[name]["fit_cpu_s"], 4)
        entry["speedup_cpu"] = round(theirs[name]["fit_cpu_s"] / entry["fit_cpu_s"], 1)
        entry["lifetimes_params"] = params
        entry["max_relative_param_difference"] = _max_rel(entry["params"], params)
        entry["log_likelihood_lifetimes_params"] = model.log_likelihood(
            spend if name == "gamma_gamma" else data
        )


def _max_rel(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(theirs[k] / v - 1) for k, v in ours.items())
