"""CPU seconds per kind of process while a command runs: where a whole benchmark's CPU goes (session 18).

Not part of `make bench` (the leading underscore). Samples every process's CPU from /proc every 0.2 s while the
command runs, and prints, on stderr, the seconds each kind used (PostgreSQL, `tidings worker`, `tidings serve`, the
SMSC or SMTP sink, the benchmark itself), the CPU processes already running had used before the start left out.
Divide by the messages a run moved for a cost per message; the processes' start (imports) is included.
`python bench/_cpu_split.py -- python bench/sms_end_to_end.py`
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
KINDS = (("postgres", "postgres"), (" worker", "worker"), (" serve", "serve"), ("smsc.py", "sink"),
         ("sink", "sink"), ("bench/", "bench"))


def _kind(command: str) -> str | None:
    return next((kind for marker, kind in KINDS if marker in command), None)


def processes() -> list[tuple[str, str, str, float]]:
    """Every process now: (pid, its start time, its command line, its CPU seconds so far)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found.append((pid, fields[19], command, (int(fields[11]) + int(fields[12])) / HZ))
    return found


def _sample(seen: dict[tuple[str, str], tuple[str, float]], first: dict[tuple[str, str], float],
            initial: bool) -> None:
    own = str(os.getpid())
    for pid, start, command, used in processes():
        kind = _kind(command)
        if kind is None or pid == own:  # the sampling is not the benchmark's CPU
            continue
        key = (pid, start)  # the start time tells a reused pid apart
        first.setdefault(key, used if initial else 0.0)
        seen[key] = (kind, used)


def main(command: list[str]) -> int:
    seen: dict[tuple[str, str], tuple[str, float]] = {}
    first: dict[tuple[str, str], float] = {}
    _sample(seen, first, initial=True)
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    while proc.poll() is None:
        _sample(seen, first, initial=False)
        time.sleep(0.2)
    totals: collections.Counter[str] = collections.Counter()
    for key, (kind, used) in seen.items():
        totals[kind] += used - first[key]
    shares = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in totals.most_common())
    print(f"wall {time.perf_counter() - started:.1f} s; CPU s: {shares}; sum {sum(totals.values()):.1f}",
          file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(main(args[1:] if args[:1] == ["--"] else args))
