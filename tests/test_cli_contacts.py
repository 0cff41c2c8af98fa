"""`tidings contacts import|export` as an operator runs them, and the streaming import on both databases."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from tidings.cli_contacts import run_export, run_import
from tidings.db.engine import Database
from tidings.db.models import Contact, group_members
from tidings.messaging.contacts import csvfile
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

FILE = """email,phone,countryIso,name,surname,externalId,birthday:date,balance:decimal,note
ana@example.com,666555444,ES,Ana,Sol,EXT1,1990-05-17,-12.5,"=HYPERLINK(""http://evil"")"
bob@example.com,,,Bob,,EXT2,,,@SUM(A1)
bad-email,,,X,,,,,
ANA@example.com,,,Ana María,,,,,
,12,ES,,,,,,
carl@example.com,,,Carl,,,31/12/1990,,
"""


def _tidings(tmp_path: Path, *args: str, tty: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path), "TTY_COMPATIBLE": "1" if tty else "0"}
    env.pop("TIDINGS_SECRET_KEY", None)
    return subprocess.run([sys.executable, "-m", "tidings.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_import_reports_each_refused_row_and_export_is_formula_safe(tmp_path: Path) -> None:
    account = str(json.loads(_tidings(tmp_path, "account", "create", "--name", "Acme", "--email", "o@acme.test",
                                      "--json").stdout)["account_id"])
    source = tmp_path / "in.csv"
    source.write_text(FILE, encoding="utf-8")
    out = _tidings(tmp_path, "contacts", "import", "--account", account, "--group", "Clients", str(source), "--json")
    assert out.returncode == 1, "refused rows make the exit status 1"
    summary = json.loads(out.stdout)
    assert {k: summary[k] for k in ("rows", "created", "updated", "refused")} == {
        "rows": 6, "created": 2, "updated": 1, "refused": 3}
    assert out.stderr.splitlines() == [
        "line 4: email: The email must be a valid email address.",
        "line 6: phone: The phone is not a valid phone number for countryIso ES.",
        "line 7: birthday: The birthday is not a valid ISO 8601 date."]

    report = tmp_path / "errors.csv"
    again = _tidings(tmp_path, "contacts", "import", "--account", account, "--group", "Clients", str(source),
                     "--errors", str(report))
    assert again.returncode == 1 and "0 created, 3 updated, 3 refused" in again.stdout
    assert report.read_text().splitlines()[0] == "line,field,error" and len(report.read_text().splitlines()) == 4

    exported = _tidings(tmp_path, "contacts", "export", "--account", account, "--group", "Clients")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0] == ["id", "email", "phone", "landline", "countryIso", "name", "surname", "externalId",
                       "balance:decimal", "birthday:date", "note"]
    ana, bob = rows[1:]
    assert ana[1:] == ["ANA@example.com", "34666555444", "", "ES", "Ana María", "Sol", "EXT1", "'-12.5",
                       "1990-05-17", "'=HYPERLINK(\"http://evil\")"]
    assert bob[-1] == "'@SUM(A1)"

    # An export imports back unchanged (the apostrophes come off), into another group.
    target = tmp_path / "out.csv"
    assert _tidings(tmp_path, "contacts", "export", "--account", account, "--group", "Clients",
                    str(target)).returncode == 0
    back = _tidings(tmp_path, "contacts", "import", "--account", account, "--group", "Copy", str(target), "--json")
    assert back.returncode == 0 and json.loads(back.stdout)["updated"] == 2
    copy = list(csv.reader(io.StringIO(_tidings(tmp_path, "contacts", "export", "--account", account, "--group",
                                                "Copy").stdout)))
    assert copy == rows

    missing = _tidings(tmp_path, "contacts", "export", "--account", account, "--group", "Nope")
    assert missing.returncode == 2 and "no group named" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("first,second\n1,2\n")
    out = _tidings(tmp_path, "contacts", "import", "--account", account, "--group", "X", str(bad))
    assert out.returncode == 2 and "email, phone or landline column" in out.stderr
    # On a terminal (rich's TTY_COMPATIBLE stands for one) a progress bar runs, the refused rows above it.
    shown = _tidings(tmp_path, "contacts", "import", "--account", account, "--group", "Clients", str(source), tty=True)
    assert "importing" in shown.stderr and "100%" in shown.stderr
    assert "line 7: birthday: The birthday is not a valid ISO 8601 date." in shown.stderr
    out = _tidings(tmp_path, "contacts", "import", "--account", "999", "--group", "X", str(source))
    assert out.returncode == 2 and "no account 999" in out.stderr and "Traceback" not in out.stderr


def test_escape_and_unescape() -> None:
    for cell in ("=1+1", "+34", "-5", "@x", "\tx", "\rx"):
        assert csvfile.escape(cell) == "'" + cell and csvfile.unescape(csvfile.escape(cell)) == cell
    assert csvfile.escape("plain") == "plain" and csvfile.unescape("'quoted") == "'quoted"


async def test_streamed_import_in_batches(db: Database, account: NewAccount) -> None:
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    lines = ["email,phone,score:decimal"] + [f"p{i}@example.com,6665{i:05d},{i}" for i in range(250)]
    lines.append("p0@example.com,,1000")  # a later row updates the contact an earlier batch made
    seen: list[int] = []
    result = await run_import(db, subject, "Big", io.BytesIO("\n".join(lines).encode()), country="es", batch=100,
                              on_progress=seen.append)
    assert (result.rows, result.created, result.updated, result.errors) == (251, 250, 1, [])
    assert len(seen) == 3 and seen == sorted(seen)
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(group_members))).scalar_one() == 250
        first = (await s.execute(select(Contact).where(Contact.email_key == "p0@example.com"))).scalar_one()
    assert first.phone == "34666500000" and first.custom_fields["score"] == "1000"
    assert first.country_iso == "ES" and first.custom_field_types == {"score": "decimal"}
    out = io.StringIO()
    assert await run_export(db, subject, "Big", out) == 250
    assert out.getvalue().splitlines()[0].endswith(",score:decimal")
