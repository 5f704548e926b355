"""One-shot `pond search` processes against `grep -r` over the same corpus
(issue 33, item 7: p50 within 2x grep, model load included).

Each of the search evaluation's questions is run as its own `pond search
--json` process over the evaluation's store (one untimed warm-up, then RUNS
timed runs), and as `grep -r -i -F -l` over the bench corpus's session
files. Prints p50 and p95 wall milliseconds and the core-seconds the timed
processes used (user + system, from wait4), so a CPU-bound figure can be
judged apart from the machine's cores; then what those processes answered:
recall@1 and recall@3 by session, per kind and half, from the warm-up
run's JSON (the one-shot path embeds its query in process, so its ranking
is checked here, not only in the bench's in-process ranking).

    python3 benches/oneshot_search.py POND_BINARY STORE_DIR STATE_DIR [RUNS=3]

The model is the one the environment chooses (POND_EMBED_MODEL); the store
must have been filled with it (`make bench-search-eval` does, under
/var/tmp/pond-bench-eval).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "shared", "bench-corpus", "claude-code")


def timed(argv, env, keep=None):
    """Wall milliseconds and core-seconds of one process run to its end;
    its stdout goes to the file `keep` when given."""
    started = time.perf_counter()
    out = keep if keep is not None else subprocess.DEVNULL
    child = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.PIPE)
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


def measure(name, make, queries, runs, env, answers=None):
    walls, cores = [], 0.0
    for query in queries:
        if answers is None:
            timed(make(query), env)
        else:
            with tempfile.TemporaryFile() as out:
                timed(make(query), env, keep=out)
                out.seek(0)
                answers[query] = json.load(out)
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
        questions = json.load(f)["questions"]
    queries = [q["query"] for q in questions]
    env = dict(os.environ, POND_STORE=store, XDG_STATE_HOME=state, POND_HOST="bench")
    env.pop("POND_CONFIG", None)
    model = env.get("POND_EMBED_MODEL", "default")
    print(f"{len(queries)} questions, {runs} timed runs each, model {model}, {pond}")
    print("| process | runs | p50 ms | p95 ms | core-ms per run |")
    print("|---|---|---|---|---|")
    answered = {}
    ours = measure(
        "pond search --json",
        lambda q: [pond, "search", "--json", "--limit", "10", q],
        queries,
        runs,
        env,
        answers=answered,
    )
    theirs = measure(
        "grep -r -i -F -l",
        lambda q: ["grep", "-r", "-i", "-F", "-l", "--", q, CORPUS],
        queries,
        runs,
        env,
    )
    print(f"pond's p50 is {ours / theirs:.2f}x grep's")
    print_recall(questions, answered)


def sessions_in_order(response):
    """Distinct answering sessions in rank order, by the id the questions use."""
    seen = []
    for hit in response.get("hits", []):
        session = hit["session_id"].split(":", 1)[-1]
        if session not in seen:
            seen.append(session)
    return seen


def print_recall(questions, answered):
    print("| half | kind | recall@1 | recall@3 |")
    print("|---|---|---|---|")
    for half in ("tune", "held"):
        for kind in ("all", "exact", "keyword", "paraphrase"):
            asked = [
                q
                for q in questions
                if q["split"] == half and kind in ("all", q["kind"])
            ]
            at = {1: 0, 3: 0}
            for q in asked:
                ranked = sessions_in_order(answered[q["query"]])
                for k in at:
                    if set(ranked[:k]) & set(q["answers"]):
                        at[k] += 1
            n = len(asked)
            print(f"| {half} | {kind} | {at[1]}/{n} | {at[3]}/{n} |")


if __name__ == "__main__":
    main()
