"""`siyu predict fit` on the CDNOW sample written as CSV and as Parquet: the contract in a real subprocess,
the other cases in-process through the same Typer app (a subprocess costs seconds of imports)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest

from siyu.predict.cdnow import PUBLISHED

from .published import three_significant

SIYU = str(Path(sys.executable).parent / "siyu")
DATES = ["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, cdnow_transactions: pl.DataFrame) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cdnow")
    frame = cdnow_transactions.rename({"customer": "会员ID", "date": "order_date", "amount": "paid"})
    csv, parquet = folder / "cdnow.csv", folder / "cdnow.parquet"
    frame.write_csv(csv)
    frame.write_parquet(parquet)
    return {"csv": csv, "parquet": parquet}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIYU, "predict", "fit", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _columns(path: Path, amount: bool = True) -> list[str]:
    base = ["--transactions", str(path), "--customer-col", "会员ID", "--date-col", "order_date"]
    return [*base, "--amount-col", "paid"] if amount else base


@pytest.mark.slow
def test_json_contract_on_cdnow(files: dict[str, Path]) -> None:
    done = _run(*_columns(files["csv"]), *DATES, "--json")
    assert done.returncode == 0, done.stderr
    out = orjson.loads(done.stdout)
    assert set(out) == {"bgnbd", "pareto_nbd", "gamma_gamma", "holdout"}
    assert set(out["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(out["pareto_nbd"]) == {"r", "alpha", "s", "beta", "log_likelihood"}
    assert set(out["gamma_gamma"]) == {"p", "q", "gamma"}
    assert set(out["holdout"]) == {"actual", "bgnbd", "pareto_nbd"}
    for model in ("bgnbd", "pareto_nbd", "gamma_gamma"):
        for name, published in PUBLISHED[model].items():
            if name == "log_likelihood":
                assert abs(out[model][name] - published) <= 0.1
            else:
                assert three_significant(out[model][name], published), (model, name)
    assert out["holdout"]["actual"] == 1882
    assert out["holdout"]["bgnbd"] == pytest.approx(1653.4, abs=0.1)
    assert out["holdout"]["pareto_nbd"] == pytest.approx(1665.5, abs=0.1)


def test_without_amount_or_holdout_those_parts_are_null(files: dict[str, Path]) -> None:
    from typer.testing import CliRunner

    from siyu.cli.main import app

    args = [
        "predict",
        "fit",
        *_columns(files["parquet"], amount=False),
        "--calibration-end",
        "1997-09-30",
        "--json",
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    out = orjson.loads(done.stdout)
    assert out["gamma_gamma"] is None and out["holdout"] is None
    assert abs(out["bgnbd"]["log_likelihood"] - PUBLISHED["bgnbd"]["log_likelihood"]) <= 0.1


@pytest.mark.slow
def test_table_without_json(files: dict[str, Path]) -> None:
    done = _run(*_columns(files["parquet"]), *DATES)
    assert done.returncode == 0, done.stderr
    for words in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma", "-9582.4", "-9595.0", "7+", "1,882"):
        assert words in done.stdout


@pytest.mark.slow
def test_missing_column_exits_2_and_names_it(files: dict[str, Path]) -> None:
    missing = _run(
        "--transactions", str(files["csv"]), "--customer-col", "cust", "--date-col", "order_date", *DATES
    )
    assert missing.returncode == 2
    assert "no column 'cust'" in missing.stderr and "会员ID" in missing.stderr


@pytest.mark.parametrize(
    ("content", "extra", "words"),
    [
        ("会员ID,order_date,paid\n1,1997-01-01,3\n1,someday,4\n", [], "row 2: 'someday' is not a date"),
        ("会员ID,order_date,paid\n1,1997-01-01,3\n1,1997-02-01,free\n", [], "row 2: 'free' is not an amount"),
        ("会员ID,order_date,paid\n1,1997-01-01,3\n", ["--calibration-end", "1997-13-01"], "is not a date"),
        ("会员ID,order_date,paid\n1,1997-01-01,3\n", ["--time-unit", "months"], "weeks or days"),
        ("会员ID,order_date,paid\n1,1998-01-01,3\n", [], "no transactions on or before 1997-09-30"),
    ],
)
def test_unusable_input_exits_2_and_says_why(
    tmp_path: Path, content: str, extra: list[str], words: str
) -> None:
    # in-process (the subprocess path is covered above): the same Typer app, the same exit code
    from typer.testing import CliRunner

    from siyu.cli.main import app

    path = tmp_path / "orders.csv"
    path.write_text(content)
    args = ["predict", "fit", *_columns(path), *DATES]
    if extra and extra[0] == "--calibration-end":
        args = ["predict", "fit", *_columns(path), *extra]
    elif extra:
        args += extra
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())


def test_unsupported_file_type(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from siyu.cli.main import app

    result = CliRunner().invoke(app, ["predict", "fit", *_columns(tmp_path / "orders.xlsx"), *DATES])
    assert result.exit_code == 2 and "use .csv or .parquet" in " ".join(result.output.split())
