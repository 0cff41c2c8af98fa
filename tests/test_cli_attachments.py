"""`tidings attachment add|list`: files for [attachment_{ID}] links, stored under the data dir."""

from __future__ import annotations

import hashlib
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


def test_add_stores_the_file_once_and_prints_its_link_pattern(tmp_path: Path) -> None:
    account = str(json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test",
                                      "--json").stdout)["account_id"])
    terms = tmp_path / "terms.pdf"
    terms.write_bytes(b"%PDF-1.4 terms")
    out = _tidings(tmp_path, "attachment", "add", str(terms), "--account", account)
    assert out.returncode == 0, out.stderr
    public, name, kind, pattern = out.stdout.strip().split("\t")
    assert (name, kind, pattern) == ("terms.pdf", "application/pdf", f"[attachment_{public}]")
    assert public.isdigit() and int(public) > 1000, "a public id, not the row's key"
    stored = tmp_path / "attachments" / hashlib.sha256(b"%PDF-1.4 terms").hexdigest()
    assert stored.read_bytes() == b"%PDF-1.4 terms"
    again = _tidings(tmp_path, "attachment", "add", str(terms), "--account", account, "--name", "Terms v2.pdf")
    assert again.returncode == 0 and again.stdout.split("\t")[0] != public
    assert len(list((tmp_path / "attachments").iterdir())) == 1, "one copy per content"
    listed = _tidings(tmp_path, "attachment", "list", "--account", account).stdout.strip().splitlines()
    assert [line.split("\t")[1] for line in listed] == ["terms.pdf", "Terms v2.pdf"]


def test_an_empty_file_is_a_clean_error(tmp_path: Path) -> None:
    account = str(json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "owner@acme.test",
                                      "--json").stdout)["account_id"])
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    out = _tidings(tmp_path, "attachment", "add", str(empty), "--account", account)
    assert out.returncode == 2 and "The file must hold" in out.stderr and "Traceback" not in out.stderr
