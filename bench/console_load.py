"""How the console behaves with many incidents: the list page, the JSON API, a filter, the detail page,
and what one live update costs, with N incidents held (in-process, Starlette's test client).

    .venv/bin/python bench/console_load.py 10000
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streams.services.console.app import make_app  # noqa: E402
from streams.services.console.store import IncidentStore  # noqa: E402
from streams.services.console.users import UserBook, add  # noqa: E402


def incident(n: int) -> dict:
    return {"type": "incident", "incident_id": f"i-{n:08d}", "tenant": f"pbx{n % 40:02d}", "subject_type": "extension",
            "subject": str(1000 + n % 5000), "status": ("open", "acknowledged", "closed")[n % 3],
            "opened": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00",
            "last_seen": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+00:00", "until": None,
            "severity": ("warning", "alert", "critical")[n % 3], "rules": ["premium_rate", "call_frequency"][: 1 + n % 2],
            "alert_ids": [f"a-{n}"], "action_ids": [], "actions": [], "events": 3, "cost": round(n % 97 * 1.37, 2),
            "summary": f"Extension {1000 + n % 5000} called +88213{n:06d}, a premium rate number", "version": 1}


def timed(fn, runs=7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(n: int) -> None:
    store = IncidentStore()
    t = time.perf_counter()
    for i in range(n):
        store.apply(incident(i))
    load = time.perf_counter() - t
    users = Path(tempfile.mkdtemp()) / "users.json"
    add(users, "ana", "analyst", None, "password1")
    app = make_app(store, UserBook.load(users), commands=None)
    c = TestClient(app, base_url="https://testserver")  # the session cookie is Secure: sent over https only
    c.post("/login", data={"name": "ana", "password": "password1"})
    page = c.get("/")
    rows = page.text.count("<tr data-id=")
    print(f"{n:,} incidents held (applied in {load * 1000:.0f} ms); the list page shows the newest {rows} "
          f"({len(page.content) / 1024:.0f} KiB)")
    print(f"GET /                         {timed(lambda: c.get('/')):7.1f} ms (median of 7)")
    print(f"GET /api/incidents            {timed(lambda: c.get('/api/incidents')):7.1f} ms")
    print(f"GET /?severity=critical&q=12  {timed(lambda: c.get('/?severity=critical&q=12')):7.1f} ms")
    print(f"GET /incident/<id>            {timed(lambda: c.get('/incident/i-00000042')):7.1f} ms")
    from streams.services.console.users import User
    ana = User("ana", "analyst")
    seq = store.seq
    store.apply({**incident(7), "version": 2, "status": "resolved"})
    print(f"one live update (changed_since) {timed(lambda: store.changed_since(ana, seq)):5.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
