"""Run every benchmark in bench/ (each prints one JSON object) and print them as one JSON document.

Each benchmark's object also gets `calibration_seconds`: a fixed pure-Python loop timed before and after it. On a
shared machine its speed moves by twofold within minutes (docs/performance.md, session 20); this says how fast the
machine was while the benchmark ran, next to its ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _calibrate() -> float:
    """Seconds for 3 million additions in pure Python (0.11-0.51 s on the 2-CPU VMs of sessions 18 to 20)."""
    started, total = time.perf_counter(), 0
    for i in range(3_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


def main() -> int:
    results: dict[str, object] = {}
    only = set(sys.argv[1:])
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py", "common.py") or script.name.startswith("_"):
            continue
        if only and script.stem not in only:
            continue
        before = _calibrate()
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=1800)
        elapsed = round(time.perf_counter() - started, 1)
        try:
            results[script.stem] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            results[script.stem] = {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1],
                                    "exit": proc.returncode}
        result = results[script.stem]
        if isinstance(result, dict):
            result["calibration_seconds"] = {"before": before, "after": _calibrate()}
        print(f"{script.stem}: {elapsed}s", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
