"""`siyu import` at the edge: exit codes, rejects report, --map, --json, --dry-run, the real executable."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from siyu.auth.tables import Source
from siyu.cli.main import app
from siyu.core.database import session_factory
from tests.imports.conftest import has_identity, profile_of, stored_counts
from tests.imports.files import write_table

COLUMNS = ["user_id", "联系手机", "lvl"]
ROWS = [
    ["u-1", "13912345678", "gold"],
    ["u-2", "12", "silver"],
    [None, None, "bronze"],
    ["u-4", None, "iron"],
]
EXECUTABLE = Path(sys.executable).parent / "siyu"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["import", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def source_names() -> set[str]:
    with session_factory()() as s:
        return set(s.scalars(select(Source.name)))


def test_import_with_mapping_writes_the_rejects_report(db_url: str, tmp_path: Path) -> None:
    path = write_table(tmp_path / "members.csv", COLUMNS, ROWS)

    code, out, _err = invoke("customers", str(path), "--map", "phone=联系手机", "--map", "traits.level=lvl")

    assert code == 0
    assert "read 4 rows; imported 2; unchanged (already imported) 0; rejected 2" in out
    report = tmp_path / "members.csv.rejects.csv"
    assert f"rejected rows: {report}" in out
    assert [(r["row"], r["field"]) for r in read_rejects(report)] == [("3", "联系手机"), ("4", "user_id")]
    assert "phone" in read_rejects(report)[0]["reason"]
    assert profile_of("phone:13912345678")["traits"]["level"] == "gold"
    assert profile_of("user_id:u-4")["traits"] == {"level": "iron"}
    assert "import:customers" in source_names()


def test_a_clean_rerun_removes_the_stale_report(db_url: str, tmp_path: Path) -> None:
    path = write_table(tmp_path / "members.csv", COLUMNS, ROWS)
    invoke("customers", str(path), "--map", "phone=联系手机")
    report = tmp_path / "members.csv.rejects.csv"
    assert report.exists()

    write_table(path, COLUMNS, [ROWS[0], ROWS[3]])
    code, out, _err = invoke("customers", str(path), "--map", "phone=联系手机", "--json")

    assert code == 0 and not report.exists()
    summary = json.loads(out)
    assert summary == {
        "kind": "customers",
        "source": "import:customers",
        "read": 2,
        "imported": 0,
        "duplicates": 2,
        "rejected": 0,
        "messages": 0,
        "customers": 0,
        "dry_run": False,
        "rejects_report": None,
    }


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--map", "mobile_phone=联系手机"], "mobile_phone"),  # unknown target
        (["--map", "phone=手机"], "手机"),  # no such column
        (["--skip", "备注"], "备注"),
        (["--map", "phone"], "target=column"),
    ],
)
def test_unusable_mapping_exits_2_and_writes_nothing(
    db_url: str, tmp_path: Path, args: list[str], named: str
) -> None:
    before = stored_counts()
    path = write_table(tmp_path / "members.csv", COLUMNS, ROWS)

    code, out, err = invoke("customers", str(path), *args)

    assert code == 2 and out == ""
    assert named in err
    assert stored_counts() == before
    assert "import:customers" not in source_names()
    assert not (tmp_path / "members.csv.rejects.csv").exists()


def test_orders_without_an_order_id_column_exit_2(db_url: str, tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "orders.xlsx", ["phone", "date", "total"], [["13912345678", "2024-05-01", "1"]]
    )
    code, _out, err = invoke("orders", str(path))
    assert code == 2
    assert "order_id" in err and "phone, date, total" in err


@pytest.mark.parametrize("name", ["customers.xls", "customers.txt", "missing.csv"])
def test_unreadable_files_exit_2(db_url: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name != "missing.csv":
        path.write_text("user_id\nu-1\n")
    code, _out, err = invoke("customers", str(path))
    assert code == 2 and name in err


def test_rejects_option_and_dry_run(db_url: str, tmp_path: Path) -> None:
    before = stored_counts()
    path = write_table(tmp_path / "members.csv", COLUMNS, ROWS)
    report = tmp_path / "out" / "bad-rows.csv"

    code, out, _err = invoke(
        "customers", str(path), "--map", "phone=联系手机", "--rejects", str(report), "--dry-run"
    )

    assert code == 0
    assert "would import 2" in out
    assert [r["row"] for r in read_rejects(report)] == ["3", "4"]
    assert stored_counts() == before and not has_identity("user_id:u-1")


def test_named_source(db_url: str, tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "orders.csv",
        ["order_id", "user_id", "date", "total"],
        [["T1", "u-1", "2024-05-01", "9.9"]],
    )
    code, out, _err = invoke("orders", str(path), "--source", "tmall", "--json")
    assert code == 0 and json.loads(out)["source"] == "tmall"
    assert "tmall" in source_names() and "import:orders" not in source_names()


def test_the_installed_executable(db_url: str, tmp_path: Path) -> None:
    good = write_table(
        tmp_path / "events.parquet", ["user_id", "event"], [["u-1", "Signed Up"], ["u-2", None]]
    )
    bad = write_table(tmp_path / "bad.csv", ["who", "what"], [["u-1", "x"]])
    env = {**os.environ, "SIYU_DATABASE_URL": db_url}

    done = subprocess.run(
        [str(EXECUTABLE), "import", "events", str(good), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    refused = subprocess.run(
        [str(EXECUTABLE), "import", "events", str(bad)], env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 1 and json.loads(done.stdout)["rejected"] == 1
    assert "rows" in done.stderr  # the progress bar
    assert refused.returncode == 2 and "event" in refused.stderr
    assert has_identity("user_id:u-1") and not has_identity("user_id:u-2")
