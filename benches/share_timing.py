"""How long a share link's server takes to answer ids that name no share,
well-formed or not (spec rule 56: an unknown id is a 404 indistinguishable
in timing from a wrong one).

Start `pond serve` on a store, then:

    python3 benches/share_timing.py http://127.0.0.1:7474 [ROUNDS=300]

Each round asks, in turn, for a well-formed unknown id (48 hex digits, as
pond makes them), a short word, and a path-like id; prints p50, p90 and
the mean of each, in milliseconds, and the status codes seen.
"""

import http.client
import os
import statistics
import sys
import time
from urllib.parse import urlparse


def ask(conn, path):
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return (time.perf_counter() - started) * 1000.0, response.status


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    url = urlparse(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
    kinds = {
        "unknown, well-formed": lambda: "/s/" + os.urandom(24).hex(),
        "a short word": lambda: "/s/nope",
        "path-like": lambda: "/s/..%2F..%2Fshares",
    }
    times = {name: [] for name in kinds}
    statuses = {name: set() for name in kinds}
    for _ in range(rounds):
        for name, make in kinds.items():
            ms, status = ask(conn, make())
            times[name].append(ms)
            statuses[name].add(status)
    print(f"{rounds} rounds against {sys.argv[1]}")
    print("| id | p50 ms | p90 ms | mean ms | statuses |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        print(
            f"| {name} | {statistics.median(values):.2f} | {p90:.2f} | "
            f"{statistics.fmean(values):.2f} | {sorted(statuses[name])} |"
        )


if __name__ == "__main__":
    main()
