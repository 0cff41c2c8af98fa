"""Run every benchmark in bench/ (each prints one JSON object) and print them as one JSON document."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    results: dict[str, object] = {}
    only = set(sys.argv[1:])
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py", "common.py") or script.name.startswith("_"):
            continue
        if only and script.stem not in only:
            continue
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=1800)
        elapsed = round(time.perf_counter() - started, 1)
        try:
            results[script.stem] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            results[script.stem] = {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1],
                                    "exit": proc.returncode}
        print(f"{script.stem}: {elapsed}s", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
