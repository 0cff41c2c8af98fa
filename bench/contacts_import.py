"""Contact database import: 100,000 CSV rows through `tidings contacts import` on SQLite.

Runs the CLI as an operator does (its own process), first into an empty database (inserts), then
the same file again (every row an update), and a file a fifth of the size, reporting each run's
rate (ru_maxrss): flat memory means the two peaks stay close.
Target: 100,000 rows in under 30 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def _csv(path: Path, n: int, prefix: str = "person", mobile: str = "6") -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,phone,countryIso,name,surname,externalId,city,since:date,balance:decimal\n")
        for i in range(n):
            out.write(f"{prefix}{i}@example{i % 97}.org,{mobile}{i:08d},ES,First{i},Last{i},EXT{i},City {i % 50},"
                      f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i % 1000}.{i % 100:02d}\n")


def _run(env: dict[str, str], *args: str) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS in MB, stdout and CPU seconds of one `tidings` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tidings.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"tidings {' '.join(args)} exited {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'bench.db'}",
               "TIDINGS_DATA_DIR": str(root), "TIDINGS_SECRET_KEY": "bench"}
        big, small = root / "big.csv", root / "small.csv"
        _csv(big, ROWS)
        _csv(small, ROWS // 5, prefix="other", mobile="7")
        _, _, out, _ = _run(env, "account", "create", "--name", "Bench", "--email", "bench@bench.test", "--json")
        account = str(json.loads(out)["account_id"])
        command = ("contacts", "import", "--account", account, "--json", "--group")
        small_s, small_mb, _, _ = _run(env, *command, "Small", str(small))
        insert_s, insert_mb, out, insert_cpu = _run(env, *command, "Big", str(big))
        created = json.loads(out)["created"]
        update_s, update_mb, out, update_cpu = _run(env, *command, "Big", str(big))
        updated = json.loads(out)["updated"]
    return {"bench": "contacts_import", "database": "sqlite", "rows": ROWS,
            "insert_seconds": round(insert_s, 2), "insert_rows_per_second": round(ROWS / insert_s),
            "update_seconds": round(update_s, 2), "update_rows_per_second": round(ROWS / update_s),
            # CPU time of the process: what the import costs on a machine shared with other work.
            "insert_cpu_seconds": round(insert_cpu, 2), "update_cpu_seconds": round(update_cpu, 2),
            "peak_rss_mb": {f"{ROWS // 5}_rows": round(small_mb, 1), f"{ROWS}_rows_insert": round(insert_mb, 1),
                            f"{ROWS}_rows_update": round(update_mb, 1)},
            "small_file_seconds": round(small_s, 2), "created": created, "updated": updated,
            "target_seconds": 30, "within_target": insert_s < 30 and update_s < 30}


if __name__ == "__main__":
    print(json.dumps(main()))
