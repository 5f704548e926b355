#!/usr/bin/env python3
"""Self-check for questions.json: the search eval set is hand-written, so this guards its shape
(kinds, splits, ids), that answer sessionIds exist in the corpus, and that every evidence quote is real."""

import glob
import json
import os
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.environ.get("POND_BENCH_CORPUS", "/work/shared/bench-corpus/claude-code")
FIXTURE_DIRS = [
    os.path.join(REPO, "tests", "fixtures", "claude-code"),
    os.path.join(REPO, "tests", "fixtures", "codex"),
]
KINDS = ("exact", "keyword", "paraphrase")
MIN_PER_KIND = 22
MIN_PER_KIND_SPLIT = 11
MIN_BENCH_ANSWERED = 50
MAX_EVIDENCE = 200


def strings(value, out):
    """Collect every string inside a decoded JSON value."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            strings(v, out)
    elif isinstance(value, list):
        for v in value:
            strings(v, out)


def session_ids(record):
    ids = set()
    if isinstance(record, dict):
        sid = record.get("sessionId")
        if isinstance(sid, str) and sid:
            ids.add(sid)
        if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
            pid = record["payload"].get("id")
            if isinstance(pid, str) and pid:
                ids.add(pid)
    return ids


def load_corpus():
    """Map sessionId -> decoded text, and sessionId -> whether it comes from the bench corpus."""
    files = [(f, True) for f in sorted(glob.glob(os.path.join(BENCH, "*.jsonl")))]
    for d in FIXTURE_DIRS:
        files += [(f, False) for f in sorted(glob.glob(os.path.join(d, "**", "*.jsonl"), recursive=True))]
    if not any(is_bench for _, is_bench in files):
        sys.exit(f"no bench corpus files found under {BENCH}")
    text = defaultdict(list)
    in_bench = defaultdict(bool)
    for path, is_bench in files:
        ids, parts = set(), []
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a partial last line is allowed
                ids |= session_ids(rec)
                strings(rec, parts)
        blob = "\n".join(parts)
        for sid in ids:
            text[sid].append(blob)
            in_bench[sid] |= is_bench
    return {k: "\n".join(v) for k, v in text.items()}, in_bench


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "questions.json")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    errors = []
    if not isinstance(data.get("about"), str) or not data["about"].strip():
        errors.append("missing 'about' paragraph")
    questions = data.get("questions", [])

    corpus, in_bench = load_corpus()

    ids = Counter(q.get("id") for q in questions)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]

    per_kind = Counter()
    per_kind_split = Counter()
    seen_in_kind = Counter()
    bench_answered = 0
    distinct = set()
    for q in questions:
        qid = q.get("id", "?")
        kind, split = q.get("kind"), q.get("split")
        for field in ("id", "kind", "split", "query", "answers", "evidence", "note"):
            if not q.get(field):
                errors.append(f"{qid}: empty or missing '{field}'")
        if kind not in KINDS:
            errors.append(f"{qid}: bad kind {kind!r}")
            continue
        if split not in ("tune", "held"):
            errors.append(f"{qid}: bad split {split!r}")
        expected = "tune" if seen_in_kind[kind] % 2 == 0 else "held"
        if split != expected:
            errors.append(f"{qid}: split {split!r} breaks tune/held alternation within {kind} (expected {expected!r})")
        seen_in_kind[kind] += 1
        per_kind[kind] += 1
        per_kind_split[(kind, split)] += 1

        answers = q.get("answers") or []
        if len(set(answers)) != len(answers):
            errors.append(f"{qid}: duplicate answers")
        missing = [a for a in answers if a not in corpus]
        errors += [f"{qid}: answer sessionId {a} not found in corpus" for a in missing]
        distinct.update(answers)
        if any(in_bench.get(a) for a in answers):
            bench_answered += 1

        ev = q.get("evidence") or ""
        if len(ev) > MAX_EVIDENCE:
            errors.append(f"{qid}: evidence is {len(ev)} chars (> {MAX_EVIDENCE})")
        if ev and not any(ev in corpus.get(a, "") for a in answers):
            errors.append(f"{qid}: evidence not found in any answer session: {ev[:80]!r}")

    for kind in KINDS:
        if per_kind[kind] < MIN_PER_KIND:
            errors.append(f"only {per_kind[kind]} {kind} questions (< {MIN_PER_KIND})")
        for split in ("tune", "held"):
            if per_kind_split[(kind, split)] < MIN_PER_KIND_SPLIT:
                errors.append(f"only {per_kind_split[(kind, split)]} {kind}/{split} (< {MIN_PER_KIND_SPLIT})")
    if bench_answered < MIN_BENCH_ANSWERED:
        errors.append(f"only {bench_answered} questions answered by bench-corpus sessions (< {MIN_BENCH_ANSWERED})")

    print(f"{len(questions)} questions; corpus has {len(corpus)} session ids")
    for kind in KINDS:
        print(f"  {kind:10s} {per_kind[kind]:3d}  (tune {per_kind_split[(kind, 'tune')]}, held {per_kind_split[(kind, 'held')]})")
    print(f"  answered by bench corpus: {bench_answered}; distinct answer sessions: {len(distinct)} "
          f"({sum(1 for a in distinct if in_bench.get(a))} bench, {sum(1 for a in distinct if not in_bench.get(a))} fixture)")
    if errors:
        print(f"FAIL: {len(errors)} problem(s)")
        for e in errors:
            print("  - " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
