"""`siyu tags import` and `siyu tags list` through Typer's runner: summary, rejects report, --remove,
--json, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.clock import now
from siyu.core.database import session_factory, unit_of_work
from siyu.tags import service
from siyu.tags.tables import CustomerTag, TagChange
from tests.tags.conftest import make_customers


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["tags", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def setup_tag() -> tuple[int, list[int]]:
    with unit_of_work() as s:
        ids = make_customers(s, 3)
        group = service.ensure_group(s, "来源/渠道", category="source", kind="static", exclusive=False)
        return service.ensure_tag(s, group.id, "抖音").id, ids


def holders(tag_id: int) -> list[int]:
    with session_factory()() as s:
        return sorted(s.scalars(select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag_id)))


def test_import_tags_listed_customers_and_reports_rejects(db_url: str, tmp_path: Path) -> None:
    tag_id, ids = setup_tag()
    path = tmp_path / "list.csv"
    path.write_text(f"customer_id\n{ids[0]}\n{ids[1]}\n123456789\nphone:abc\n", encoding="utf-8")

    code, out, err = invoke("import", str(path), "--tag", "来源/渠道/抖音", "--reason", "直播间")
    assert code == 0, err
    assert "list.csv: 4 entries; added 2, removed 0, unchanged 0, rejected 2" in out
    report = tmp_path / "list.csv.rejects.csv"
    assert f"rejected lines: {report}" in out
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["line"], r["value"]) for r in rows] == [("4", "123456789"), ("5", "phone:abc")]
    assert holders(tag_id) == ids[:2]
    with session_factory()() as s:
        actors = set(s.execute(select(TagChange.actor, TagChange.reason)))
    assert actors == {("import:list.csv", "直播间")}

    code, out, _ = invoke("import", str(path), "--tag", str(tag_id), "--remove", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["removed"], summary["rejected"], summary["lines"]) == (2, 2, 4)
    assert holders(tag_id) == []


def test_unknown_tag_or_file_exits_2(db_url: str, tmp_path: Path) -> None:
    setup_tag()
    path = tmp_path / "ids.txt"
    path.write_text("1\n", encoding="utf-8")
    code, _out, err = invoke("import", str(path), "--tag", "来源/渠道/快手")
    assert code == 2 and "no tag '来源/渠道/快手'" in err
    code, _out, err = invoke("import", str(tmp_path / "missing.txt"), "--tag", "来源/渠道/抖音")
    assert code == 2 and "cannot read" in err


def test_list(db_url: str) -> None:
    tag_id, ids = setup_tag()
    with unit_of_work() as s:
        service.apply(s, tag_id, add=ids, actor="t", reason=None, at=now())
    code, out, _ = invoke("list", "--json")
    assert code == 0
    assert [(t["group"], t["name"], t["members"]) for t in json.loads(out)] == [("来源/渠道", "抖音", 3)]
    code, out, _ = invoke("list")
    assert code == 0 and "抖音" in out and "来源/渠道" in out
