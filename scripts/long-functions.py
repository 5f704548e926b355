#!/usr/bin/env python3
"""Lists the functions under src/ longer than a limit (default 80 lines),
longest first, and how many there are: the measure issue 34 sets.

    scripts/long-functions.py [LIMIT]

A function runs from its `fn` line to the closing brace at its own
indentation; a declaration without a body (a trait item) is not counted.
"""
import os
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
start = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?fn (\w+)")
found = []
for root, _, files in os.walk(here):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(root, name)
        lines = open(path, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            m = start.match(line)
            if not m or line.rstrip().endswith(";"):
                continue
            closing = m.group(1) + "}"
            end = next((j for j in range(i, len(lines)) if lines[j].rstrip() == closing), i)
            length = end - i + 1
            if length > limit:
                found.append((length, os.path.relpath(path, os.path.join(here, "..")), m.group(7)))
for length, path, fn in sorted(found, reverse=True):
    print(f"{length:4} {path} {fn}")
print(f"{len(found)} functions over {limit} lines")
