"""Default development secrets are refused outside development and test, naming the variables to set."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from siyu.core.settings import Settings

ALL_DEFAULTS = ("SIYU_SECRET_KEY", "SIYU_PII_KEYS", "SIYU_BLIND_INDEX_KEY")
REAL_PII_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("SIYU_"):
            monkeypatch.delenv(name)


def _real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_SECRET_KEY", "s3cret-for-production-use-only")
    monkeypatch.setenv("SIYU_PII_KEYS", f'{{"k2026": "{REAL_PII_KEY}"}}')
    monkeypatch.setenv("SIYU_PII_ACTIVE_KEY_ID", "k2026")
    monkeypatch.setenv("SIYU_BLIND_INDEX_KEY", "another-long-random-value")


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_defaults_refused_naming_every_variable(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("SIYU_ENVIRONMENT", environment)
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = str(caught.value)
    for name in ALL_DEFAULTS:
        assert name in message
    assert environment in message


@pytest.mark.parametrize("left", ALL_DEFAULTS)
def test_one_remaining_default_is_named(monkeypatch: pytest.MonkeyPatch, left: str) -> None:
    _real_secrets(monkeypatch)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "production")
    monkeypatch.delenv(left)
    if left == "SIYU_PII_KEYS":
        monkeypatch.delenv("SIYU_PII_ACTIVE_KEY_ID")
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = str(caught.value)
    assert left in message
    assert [n for n in ALL_DEFAULTS if n != left and n in message] == []


def test_real_secrets_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    _real_secrets(monkeypatch)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "production")
    settings = Settings()
    assert settings.environment == "production"
    assert settings.pii_active_key_id == "k2026"


def test_active_key_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    _real_secrets(monkeypatch)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "production")
    monkeypatch.setenv("SIYU_PII_ACTIVE_KEY_ID", "k1999")
    with pytest.raises(ValidationError, match="SIYU_PII_ACTIVE_KEY_ID"):
        Settings()


@pytest.mark.parametrize("environment", ["development", "test"])
def test_defaults_allowed_for_development_and_test(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("SIYU_ENVIRONMENT", environment)
    assert Settings().environment == environment


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SIYU_ENVIRONMENT=production\n")
    with pytest.raises(ValidationError, match="SIYU_SECRET_KEY"):
        Settings()


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["source", "create", "x"]])
def test_cli_refuses_to_start_with_default_secrets(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env |= {"SIYU_ENVIRONMENT": "production", "SIYU_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("siyu")), *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    for name in ALL_DEFAULTS:
        assert name in result.stderr
    assert not (tmp_path / "prod.db").exists()
