"""One-shot `pond search` processes against `grep -r` over the same corpus
(issue 33, item 7: p50 within 2x grep, model load included).

Each of the search evaluation's questions is run as its own `pond search
--json` process over the evaluation's store (one untimed warm-up, then RUNS
timed runs), and as `grep -r -i -F -l` over the bench corpus's session
files. Prints p50 and p95 wall milliseconds and the core-seconds the timed
processes used (user + system, from wait4), so a CPU-bound figure can be
judged apart from the machine's cores.

    python3 benches/oneshot_search.py POND_BINARY STORE_DIR STATE_DIR [RUNS=3]

The model is the one the environment chooses (POND_EMBED_MODEL); the store
must have been filled with it (`make bench-search-eval` does, under
/var/tmp/pond-bench-eval).
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "shared", "bench-corpus", "claude-code")


def timed(argv, env):
    """Wall milliseconds and core-seconds of one process run to its end."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - started) * 1000.0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{argv[0]} exited {code}: {child.stderr.read().decode(errors='replace')}")
    child.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p))]


def measure(name, make, queries, runs, env):
    walls, cores = [], 0.0
    for query in queries:
        timed(make(query), env)
        for _ in range(runs):
            wall, core = timed(make(query), env)
            walls.append(wall)
            cores += core
    p50, p95 = percentile(walls, 0.5), percentile(walls, 0.95)
    per_run = cores / len(walls)
    print(f"| {name} | {len(walls)} | {p50:.0f} | {p95:.0f} | {per_run * 1000:.0f} |")
    return p50


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    pond, store, state = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    with open(os.path.join(HERE, "search-eval", "questions.json"), encoding="utf-8") as f:
        queries = [q["query"] for q in json.load(f)["questions"]]
    env = dict(os.environ, POND_STORE=store, XDG_STATE_HOME=state, POND_HOST="bench")
    env.pop("POND_CONFIG", None)
    model = env.get("POND_EMBED_MODEL", "default")
    print(f"{len(queries)} questions, {runs} timed runs each, model {model}, {pond}")
    print("| process | runs | p50 ms | p95 ms | core-ms per run |")
    print("|---|---|---|---|---|")
    ours = measure(
        "pond search --json",
        lambda q: [pond, "search", "--json", "--limit", "10", q],
        queries,
        runs,
        env,
    )
    theirs = measure(
        "grep -r -i -F -l",
        lambda q: ["grep", "-r", "-i", "-F", "-l", "--", q, CORPUS],
        queries,
        runs,
        env,
    )
    print(f"pond's p50 is {ours / theirs:.2f}x grep's")


if __name__ == "__main__":
    main()
