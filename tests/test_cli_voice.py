"""`tidings voice caller`: operators register the caller ids an account may use."""

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


def test_callers_add_list_remove(tmp_path: Path) -> None:
    account = str(json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test",
                                      "--json").stdout)["account_id"])
    added = _tidings(tmp_path, "voice", "caller", "add", "es", "+34 911 222 333", "--account", account)
    assert added.returncode == 0, added.stderr
    assert "34911222333 is a caller of account" in added.stdout
    assert _tidings(tmp_path, "voice", "caller", "add", "ES", "34911222333", "--account", account).returncode == 0
    listed = _tidings(tmp_path, "voice", "caller", "list", "--account", account, "--json")
    assert json.loads(listed.stdout) == [{"country": "ES", "number": "34911222333"}], "registering twice is one caller"
    bad = _tidings(tmp_path, "voice", "caller", "add", "XX", "34911222333", "--account", account)
    assert bad.returncode == 2 and "country code" in bad.stderr and "Traceback" not in bad.stderr
    nobody = _tidings(tmp_path, "voice", "caller", "add", "ES", "34911222333", "--account", "999")
    assert nobody.returncode == 2 and "no account" in nobody.stderr
    assert _tidings(tmp_path, "voice", "caller", "remove", "ES", "34911222333", "--account", account).returncode == 0
    assert json.loads(_tidings(tmp_path, "voice", "caller", "list", "--account", account, "--json").stdout) == []
