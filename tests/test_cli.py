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
    assert set(created) == {"account_id", "email", "api_token", "username", "api_password", "password_link"}
    assert "/set-password/" in created["password_link"]
    assert created["email"] == "owner@acme.test" and created["username"] == "owner"
    assert (tmp_path / ".tidings_secret").exists(), "the install secret is generated and kept"
    again = json.loads(_tidings(tmp_path, "account", "create", "--name", "Other", "--email", "owner@x.test",
                                "--json").stdout)
    assert again["username"] == "owner2" and again["api_token"] != created["api_token"]


def test_bad_input_is_a_clean_error(tmp_path: Path) -> None:
    out = _tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "not-an-email")
    assert out.returncode == 2
    assert "valid email" in out.stderr and "Traceback" not in out.stderr


def test_account_notifications_set_show_and_clear(tmp_path: Path) -> None:
    account = str(json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test",
                                      "--json").stdout)["account_id"])
    refused = _tidings(tmp_path, "account", "notifications", "--account", account, "--url", "http://127.0.0.1/x")
    assert refused.returncode == 2 and "non-public" in refused.stderr and "Traceback" not in refused.stderr
    out = _tidings(tmp_path, "account", "notifications", "--account", account, "--url",
                   "https://u:pa55word@hooks.example.com/in", "--events", "delivered,opened", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["secret"].startswith("whsec_") and created["url"] == "https://***@hooks.example.com/in"
    assert created["events"] == ["delivered", "opened"]
    shown = _tidings(tmp_path, "account", "notifications", "--account", account)
    assert "https://***@hooks.example.com/in" in shown.stdout and "delivered, opened" in shown.stdout
    assert created["secret"] not in shown.stdout and "pa55word" not in shown.stdout
    cleared = _tidings(tmp_path, "account", "notifications", "--account", account, "--clear")
    assert cleared.returncode == 0 and "removed" in cleared.stdout
    assert "no event notifications" in _tidings(tmp_path, "account", "notifications", "--account", account).stdout
