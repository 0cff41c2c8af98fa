"""The soak test, short: workers killed with SIGKILL and PostgreSQL restarted while mail and SMS drain; nothing lost.

The full run (20,000 emails and 20,000 SMS) is `python bench/soak.py`; this one drives the same script with
a hundred emails and a hundred SMS so the suite stays fast.
"""

from __future__ import annotations

import json
import sys

from conftest import ROOT
from tidings.config import Settings

from helpers import unavailable

sys.path.insert(0, str(ROOT / "bench"))
import soak  # noqa: E402


def test_killed_workers_and_a_database_restart_lose_nothing() -> None:
    result = soak.soak(1000, 1000, workers=2, kill_every=1.5, deadline=90, db_restart=True, lease=10, db_down=2)
    if "skipped" in result:
        unavailable("postgres", result["skipped"])
    print(json.dumps(result))
    assert result["drained"], result
    assert result["emails"]["lost"] == 0 and result["sms"]["lost"] == 0
    assert result["kills"] >= 1 and result["database_restarted_at_second"] is not None
    assert result["unexpected_exits"] == [], "a worker or the server exited by itself"
    assert result["health_during_outage"]["status_code"] == 503  # the API said so, then recovered by itself
    assert result["health_after"]["status"] == "ok"
    # Copies come only from the documented window: per kill, what each connection had accepted but not recorded.
    lanes, window = soak.MAILBOXES + 1, Settings().worker_unrecorded_per_connection
    assert result["emails"]["duplicates"] + result["sms"]["duplicates"] <= result["kills"] * lanes * window
