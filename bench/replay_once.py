"""One replay-core measurement in a fresh process (so each run starts cold and RSS is its own).

    python bench/replay_once.py MODE FILE

MODE is ``json`` (the floor: a stdlib ``json.loads`` loop over the same lines), ``decode``
(the event contract's msgspec decoder alone), ``rules`` (decode + every rule) or ``model``
(decode + rules + the shipped anomaly model). Prints one JSON object: events, seconds (the
loop only, not start-up), events_per_s, rss_mb (peak), and for rules/model the state it
left: keys per scope and serialized bytes per key (msgpack, as the worker's changelog holds them).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that over fork and exec, so a
    child of the big bench process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    out: dict = {"mode": mode}
    if mode == "json":
        n = 0
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
        out.update(events=n, seconds=time.perf_counter() - t0)
    elif mode == "decode":
        from streams.domain.events import decode_event
        n = 0
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            for line in fh:
                decode_event(line)
                n += 1
        out.update(events=n, seconds=time.perf_counter() - t0)
    else:
        from streams.intake import read_events
        from streams.core.detector import Detector
        from streams.policy import Policy
        from streams.shells.replay import run

        scorer = None
        if mode == "model":
            from models.score import Scorer
            scorer = Scorer.load(ROOT / "models" / "default.skops")
        policy = Policy.load(sys.argv[3]) if len(sys.argv) > 3 else Policy.default()
        det = Detector(policy, scorer=scorer)
        alerts = [0]

        def on_output(rec):
            alerts[0] += 1

        from streams.shells.gcpolicy import settle_after_startup
        settle_after_startup()  # as `tollguard replay` does
        stats = run(read_events([path]), det, on_output, lambda r: None)
        out.update(events=stats.events, seconds=stats.seconds, outputs=alerts[0],
                   alerts_by_rule=dict(stats.alerts.most_common()))
        from streams.shells.worker.statecodec import encode_value
        sizes: dict[str, list[int]] = {}
        for key, st in det.state.items():
            sizes.setdefault(key.split(":", 1)[0], []).append(len(encode_value(st)))
        out["keys"] = {k: len(v) for k, v in sizes.items()}
        out["keys_expired"], out["keys_evicted"] = det.keys.expired, det.keys.evicted
        out["state_bytes_per_key"] = {k: round(sum(v) / len(v), 1) for k, v in sizes.items()}
    out["events_per_s"] = out["events"] / out["seconds"]
    out["rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
