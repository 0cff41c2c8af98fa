"""The `tidings` command as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _tidings(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path)}
    env.pop("TIDINGS_SECRET_KEY", None)
    return subprocess.run([sys.executable, "-m", "tidings.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_account_create_prints_credentials_once_as_json(tmp_path: Path) -> None:
    out = _tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert set(created) == {"account_id", "email", "api_token", "username", "api_password"}
    assert created["email"] == "owner@acme.test" and created["username"] == "owner"
    assert (tmp_path / ".tidings_secret").exists(), "the install secret is generated and kept"
    again = json.loads(_tidings(tmp_path, "account", "create", "--name", "Other", "--email", "owner@x.test",
                                "--json").stdout)
    assert again["username"] == "owner2" and again["api_token"] != created["api_token"]


def test_bad_input_is_a_clean_error(tmp_path: Path) -> None:
    out = _tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "not-an-email")
    assert out.returncode == 2
    assert "valid email" in out.stderr and "Traceback" not in out.stderr
