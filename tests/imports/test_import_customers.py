"""Importing customers from every format into real SQLite and PostgreSQL: profiles, rejects, re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.imports.conftest import Runner, has_identity, profile_of, stored_counts
from tests.imports.files import FORMATS, row_number, write_table

COLUMNS = ["user_id", "手机号", "email", "姓名", "会员等级", "member_id"]
GOOD = [
    ["u-1", "13912345678", "Ann@Example.com", "张三", "gold", None],
    [None, "13800001111", None, "李四", "silver", "M-0042"],
    ["123456789012345678901234567890", None, None, None, "vip", "00417"],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_good_rows_land_in_profiles(fmt: str, tmp_path: Path, run_import: Runner) -> None:
    path = write_table(tmp_path / f"customers.{fmt}", COLUMNS, GOOD)

    summary = run_import("customers", path)

    assert (summary.read, summary.imported, summary.duplicates, summary.rejected) == (3, 3, 0, 0)
    ann = profile_of("phone:13912345678")
    assert ann["traits"]["会员等级"] == "gold"
    assert ann["traits"]["name"] == "张三"
    assert {(i["type"], i["value"]) for i in ann["identities"]} >= {
        ("user_id", "u-1"),
        ("phone", "+8613912345678"),
        ("email", "ann@example.com"),
    }
    assert profile_of("member_id:M-0042")["id"] == profile_of("phone:13800001111")["id"]
    big = profile_of("user_id:123456789012345678901234567890")  # no float rounding of big ids
    assert big["traits"]["member_id"] == "00417"  # leading zeros kept
    assert ann["stats"]["events_count"] == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_rows_are_reported_by_row_number_and_good_ones_kept(
    fmt: str, tmp_path: Path, run_import: Runner
) -> None:
    rows = [
        GOOD[0],
        [None, None, None, "无名", "gold", None],  # no identity at all
        GOOD[1],
        ["u-4", "12", None, None, None, None],  # not a phone number (rejected by the pipeline)
        GOOD[2],
        ["u-6", None, "not-an-email", None, None, None],
    ]
    first = 3 if fmt == "xlsx" else 1  # an Excel sheet whose header sits on row 3
    path = write_table(tmp_path / f"customers.{fmt}", COLUMNS, rows, excel_first_row=first)

    summary = run_import("customers", path)

    assert (summary.read, summary.imported, summary.rejected) == (6, 3, 3)
    got = [(r.row, r.field) for r in summary.rejects]
    assert got == [
        (row_number(fmt, 1, excel_first_row=first), "user_id"),
        (row_number(fmt, 3, excel_first_row=first), "手机号"),
        (row_number(fmt, 5, excel_first_row=first), "email"),
    ]
    reasons = [r.reason for r in summary.rejects]
    assert "no customer identity" in reasons[0]
    assert "phone" in reasons[1] and "email" in reasons[2]
    assert has_identity("phone:13912345678") and has_identity("member_id:M-0042")
    assert not has_identity("user_id:u-4") and not has_identity("user_id:u-6")


def test_rerunning_the_same_file_changes_nothing(tmp_path: Path, run_import: Runner) -> None:
    path = write_table(tmp_path / "customers.csv", COLUMNS, [*GOOD, ["u-9", "12", None, None, None, None]])
    first = run_import("customers", path)
    before = stored_counts()

    again = run_import("customers", path)

    assert stored_counts() == before
    assert before["events"] == 3 and before["trait_history"] > 0
    assert (first.imported, first.duplicates) == (3, 0)
    assert (again.imported, again.duplicates, again.rejected) == (0, 3, 1)


def test_a_changed_row_updates_the_profile(tmp_path: Path, run_import: Runner) -> None:
    run_import("customers", write_table(tmp_path / "a.csv", COLUMNS, GOOD))
    changed = [["u-1", "13912345678", None, None, "platinum", None]]
    summary = run_import("customers", write_table(tmp_path / "b.csv", COLUMNS, [*changed, GOOD[1]]))

    assert (summary.imported, summary.duplicates) == (1, 1)
    assert profile_of("user_id:u-1")["traits"]["会员等级"] == "platinum"


def test_identical_rows_in_one_file_count_once(tmp_path: Path, run_import: Runner) -> None:
    summary = run_import("customers", write_table(tmp_path / "c.csv", COLUMNS, [GOOD[0], GOOD[0], GOOD[1]]))
    assert (summary.read, summary.imported, summary.duplicates) == (3, 2, 1)
    assert stored_counts()["events"] == 2


def test_dry_run_validates_and_writes_nothing(tmp_path: Path, run_import: Runner) -> None:
    before = stored_counts()
    path = write_table(tmp_path / "customers.csv", COLUMNS, [*GOOD, ["u-4", "12", None, None, None, None]])

    summary = run_import("customers", path, dry_run=True)

    assert (summary.imported, summary.rejected, summary.dry_run) == (3, 1, True)
    assert stored_counts() == before
    assert not has_identity("user_id:u-1")


def test_chunks_do_not_change_the_outcome(tmp_path: Path, run_import: Runner) -> None:
    rows = [[f"u-{i}", None, None, None, f"level-{i % 3}", None] for i in range(23)]
    rows[10][0] = None  # row 12: no identity
    summary = run_import("customers", write_table(tmp_path / "many.csv", COLUMNS, rows), chunk_rows=5)
    assert (summary.read, summary.imported, summary.rejected) == (23, 22, 1)
    assert [r.row for r in summary.rejects] == [12]
    assert stored_counts()["customers"] == 22


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # reads the SQLite database files
def test_personal_data_is_not_stored_in_plain_text(db_url: str, tmp_path: Path, run_import: Runner) -> None:
    run_import("customers", write_table(tmp_path / "customers.csv", COLUMNS, GOOD))
    database = Path(db_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for secret in ("13912345678", "13800001111", "ann@example.com", "Ann@Example.com", "张三", "李四"):
        assert secret.encode() not in raw, secret
    assert b"gold" in raw  # the check itself can see plain text
