#!/usr/bin/env python3
"""Draws the crate's house: its modules, the arrows between them, the
floors they stand on and the circles among them, at one commit.

    scripts/house.py [--rev COMMIT] [--json]

Why: a note about a refactor should show before and after numbers (files,
lines, arrows, back-arrows, circles) measured the same way both times, and
`make test` only says whether a circle exists, not how the house looks.
Without --rev it reads the work tree; with it, `git ls-tree` and `git show`
(nothing is checked out).

What it reads: `src/**/*.rs` (crate `pond`: src/lib.rs is `crate`,
src/main.rs the binary `main`) and `crates/pond-adapters/src/**/*.rs` (named
`pond_adapters::...`). An arrow A -> B is a path in A's code (comments and
string literals blanked) starting with `crate::`, `super::`, `self::`,
`pond_adapters::` (or `pond::` in main.rs), brace groups expanded, resolved
to the longest module it reaches; `crate::model` follows lib.rs's
`pub use pond_adapters::{...}`. `#[cfg(test)] mod x { ... }` blocks and the
files of `#[cfg(test)] mod x;` modules are not read. As in
tests/integration/architecture.rs, arrows between a module and one that
holds it (up to a parent, down to a child) are counted apart and left out
of floors and circles: a folder's mod.rs and its files are one room.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import textwrap

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = (("src/", ""), ("crates/pond-adapters/src/", "pond_adapters"))
ROOTS = ("crate", "pond_adapters", "main")
WALK_WORDS = ("sync", "round", "store", "pipeline", "commit", "lock")


def git(*args):
    return subprocess.run(["git", *args], cwd=HERE, check=True, capture_output=True,
                          text=True).stdout


def sources(rev):
    """{path: text} of every .rs file below the two source folders."""
    folders = [p.rstrip("/") for p, _ in CRATES]
    if rev:
        names = git("ls-tree", "-r", "--name-only", rev, "--", *folders).split("\n")
        return {n: git("show", f"{rev}:{n}") for n in names if n.endswith(".rs")}
    out = {}
    for folder in folders:
        for root, _, files in os.walk(os.path.join(HERE, folder)):
            for f in (f for f in files if f.endswith(".rs")):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    out[os.path.relpath(os.path.join(root, f), HERE)] = fh.read()
    return out


def module_of(path):
    """src/lib.rs -> crate, src/foo/mod.rs -> foo, src/foo/bar.rs -> foo::bar."""
    for prefix, crate in CRATES:
        if path.startswith(prefix):
            parts = path[len(prefix):-3].split("/")
            if not crate and parts == ["main"]:
                return "main"
            if parts[-1] in ("mod", "lib"):
                parts.pop()
            return "::".join([crate] * bool(crate) + parts) or "crate"
    raise ValueError(path)


def ancestors(m):
    """The modules holding `m`, nearest first (`crate` holds pond's top-level modules)."""
    parts = [] if m in ROOTS else m.split("::")
    out = ["::".join(parts[:k]) for k in range(len(parts) - 1, 0, -1)]
    return out if parts[:1] in ([], ["pond_adapters"]) else out + ["crate"]


def room(m):
    """The top-level module a module stands in (`pond_adapters::x` for the second crate)."""
    parts = m.split("::")
    return "::".join(parts[:2]) if parts[0] == "pond_adapters" else parts[0]


LITERAL = re.compile(r'//[^\n]*|/\*.*?\*/|(?<!\w)b?r(#*)".*?"\1|"(?:\\.|[^"\\])*"'
                     r"|'(?:\\(?:x\w\w|u\{\w+\}|.)|[^\\'\n])'", re.S)


def blank(text):
    """The code with its comments and string and char literals as spaces (lines kept)."""
    return LITERAL.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def closing(code, at):
    """The index just past the brace matching the `{` at `at`."""
    depth = 0
    for j in range(at, len(code)):
        depth += {"{": 1, "}": -1}.get(code[j], 0)
        if depth == 0:
            return j + 1
    return len(code)


TEST = r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*"
TEST_BLOCK, TEST_FILE = re.compile(TEST + r"\{"), re.compile(TEST + ";")


def drop_test_blocks(code):
    """The code without its `#[cfg(test)] mod x { ... }` blocks, and how many there were."""
    count = 0
    while (m := TEST_BLOCK.search(code)):
        end = closing(code, m.end() - 1)
        code = code[:m.start()] + re.sub(r"[^\n]", " ", code[m.start():end]) + code[end:]
        count += 1
    return code, count


START = re.compile(r"(?<![\w:$])\$?(crate|super|self|pond_adapters|pond)\s*::\s*")
TAIL = re.compile(r"(\w+\s*::\s*)*(\{|\w+)")


def tree(s):
    """The paths a use tree spells: `a::{b, c::{self, d}}` gives [a,b], [a,c], [a,c,d]."""
    brace = s.find("{")
    if brace < 0:
        words = re.split(r"\s*::\s*", s.split(" as ")[0].strip())
        return [[w for w in words if re.fullmatch(r"\w+", w) and w != "self"]]
    head = [w for w in re.split(r"\s*::\s*", s[:brace].strip()) if w]
    inner, depth, start, items = s[brace + 1:closing(s, brace) - 1], 0, 0, []
    for j, c in enumerate(inner + ","):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if c == "," and depth == 0:
            items.append(inner[start:j])
            start = j + 1
    return [head + p for item in items if item.strip() for p in tree(item)] or [head]


def paths_in(code):
    """(prefix, path segments) of every crate/super/self/... path in `code`."""
    for m in START.finditer(code):
        if (t := TAIL.match(code, m.end())):
            end = closing(code, t.end() - 1) if t.group(2) == "{" else t.end()
            for p in tree(code[m.end():end]):
                yield m.group(1), p


def resolve(module, prefix, segs, modules, aliases):
    """The deepest module `prefix::segs` written in `module` reaches."""
    here = [] if module == "crate" else module.split("::")
    own = ["pond_adapters"] if here[:1] == ["pond_adapters"] else []
    bases = {"crate": own, "self": here, "super": here[:-1], "pond_adapters": ["pond_adapters"]}
    if module == "main":  # the binary reaches the library as `pond::`
        bases = {"pond": [], "pond_adapters": ["pond_adapters"]}
    if (base := bases.get(prefix)) is None:
        return None
    while segs[:1] == ["super"]:
        base, segs = base[:-1], segs[1:]
    full = base + segs
    if full[:1] and full[0] in aliases:  # `crate::model` is `pond_adapters::model`
        full = aliases[full[0]] + full[1:]
    for k in range(len(full), -1, -1):
        if (name := "::".join(full[:k]) or "crate") in modules:
            return name
    return None


def tarjan(nodes, edges):
    """The strongly connected components, each sorted, every one after those it reaches."""
    index, low, stack, comps = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            at = stack.index(v)
            comps.append(sorted(stack[at:]))
            del stack[at:]

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def read_house(rev):
    """The files, module -> path, module -> lines, the arrows, and what was skipped as tests."""
    files = sources(rev)
    modules = {module_of(p): p for p in files}
    lines = {m: len(files[p].splitlines()) for m, p in modules.items()}
    codes, tests, test_blocks = {}, set(), 0
    for m, p in modules.items():
        code = blank(files[p])
        tests |= {t if m == "crate" else f"{m}::{t}" for t in TEST_FILE.findall(code)}
        codes[m], n = drop_test_blocks(code)
        test_blocks += n
    tests = {m for m in modules if m in tests or set(ancestors(m)) & tests}
    aliases = {segs[-1]: ["pond_adapters"] + segs for prefix, segs in paths_in(codes["crate"])
               if prefix == "pond_adapters" and "::".join(["pond_adapters"] + segs) in modules}
    edges = {m: set() for m in modules}
    for m in set(modules) - tests:
        for prefix, segs in paths_in(codes[m]):
            target = resolve(m, prefix, segs, modules, aliases)
            if target and target != m:
                edges[m].add(target)
    return files, modules, lines, edges, tests, test_blocks


def measure(rev):
    files, modules, lines, edges, tests, test_blocks = read_house(rev)
    kind = {(a, b): "up" if b in ancestors(a) else "down" if a in ancestors(b) else "across"
            for a in edges for b in edges[a]}
    across = {a: {b for b in bs if kind[a, b] == "across"} for a, bs in edges.items()}
    comps = tarjan(modules, across)
    comp_of = {v: i for i, c in enumerate(comps) for v in c}
    # The top-level graph: its circles and floors.
    rooms = sorted({room(m) for m in modules})
    top, out_arrows = {r: set() for r in rooms}, {r: 0 for r in rooms}
    for a, b in ((a, b) for a in across for b in across[a] if room(a) != room(b)):
        top[room(a)].add(room(b))
        out_arrows[room(a)] += 1
    tcomps = tarjan(rooms, top)
    tcomp_of = {r: i for i, c in enumerate(tcomps) for r in c}
    floor_of = {}
    for i, c in enumerate(tcomps):  # a component comes after every one it imports
        below = [floor_of[t] for r in c for t in top[r] if tcomp_of[t] != i]
        floor_of.update({r: 1 + max(below, default=0) for r in c})
    # The walk of a sync: breadth first from cli::sync through the sync-ish modules.
    walk, frontier = ({"cli::sync": None}, ["cli::sync"]) if "cli::sync" in modules else ({}, [])
    for _ in range(4):
        nxt = []
        for a, b in ((a, b) for a in frontier for b in sorted(edges[a])):
            if b not in walk and any(w in b for w in WALK_WORDS):
                walk[b] = a
                nxt.append(b)
        frontier = nxt
    longest = max(modules, key=lambda m: lines[m])
    count = {k: sum(1 for v in kind.values() if v == k) for k in ("across", "up", "down")}
    return {
        "rev": rev or "work tree", "files": len(files), "lines": sum(lines.values()),
        "modules": len(modules), "test_modules_skipped": sorted(tests),
        "test_blocks_skipped": test_blocks, "arrows": len(kind), "arrows_across": count["across"],
        "arrows_up_to_parent": count["up"], "arrows_down_to_child": count["down"],
        "arrows_between_rooms": sum(out_arrows.values()),
        "room_arrows": sum(len(t) for t in top.values()),
        "back_arrows_top": sorted(f"{a} -> {b}" for a in top for b in top[a]
                                  if tcomp_of[a] == tcomp_of[b]),
        "top_circles": [c for c in tcomps if len(c) > 1],
        "back_arrows_any_depth": sorted(f"{a} -> {b}" for a in across for b in across[a]
                                        if comp_of[a] == comp_of[b]),
        "circles": sorted(c for c in comps if len(c) > 1),
        "circles_if_nested_counted": sum(1 for c in tarjan(modules, edges) if len(c) > 1),
        "longest_file": {"path": modules[longest], "lines": lines[longest]},
        "floors": {f: [{"room": r, "lines": sum(lines[m] for m in modules if room(m) == r),
                        "modules": {m: lines[m] for m in sorted(modules) if room(m) == r},
                        "rooms_out": sorted(top[r]), "arrows_out": out_arrows[r]}
                       for r in rooms if floor_of[r] == f]
                   for f in sorted(set(floor_of.values()), reverse=True)},
        "walk": walk,
    }


def draw(h):
    print(f"The house at {h['rev']}: floors from the top down; each room's lines, "
          f"the rooms it imports and its module arrows out")
    for f, rs in h["floors"].items():
        print(f"\nfloor {f}")
        for r in rs:
            print(f"  {r['room']:<28}{r['lines']:>7} lines  -> {len(r['rooms_out']):>2} rooms "
                  f"({r['arrows_out']} arrows)")
            if len(r["modules"]) > 1:
                inner = ", ".join(f"{m[len(r['room']) + 2:] or 'mod'} {n}"
                                  for m, n in r["modules"].items())
                print(textwrap.fill(inner, 100, initial_indent=" " * 6, subsequent_indent=" " * 6))
    print(f"\nfiles {h['files']}, lines {h['lines']}, modules {h['modules']}")
    print(f"not read as tests: {h['test_blocks_skipped']} `#[cfg(test)] mod {{}}` blocks, "
          f"{len(h['test_modules_skipped'])} test-only files")
    print(f"arrows {h['arrows']}: {h['arrows_across']} across, {h['arrows_up_to_parent']} up to "
          f"a parent, {h['arrows_down_to_child']} down to a child")
    print(f"arrows between top-level rooms: {h['arrows_between_rooms']} "
          f"({h['room_arrows']} room-to-room)")
    print(f"back-arrows (top-level): {len(h['back_arrows_top'])}")
    for c in h["top_circles"]:
        print(f"  circle of rooms: {', '.join(c)}")
    print(f"back-arrows (any depth): {len(h['back_arrows_any_depth'])}")
    print(f"circles (any depth): {len(h['circles'])}")
    for c in h["circles"]:
        print(f"  {' <-> '.join(c)}")
    print(f"  (counting folder <-> inside arrows too: {h['circles_if_nested_counted']})")
    print(f"longest file: {h['longest_file']['path']} ({h['longest_file']['lines']} lines)")
    kids = {}
    for m, p in h["walk"].items():
        kids.setdefault(p, []).append(m)

    def show(m, depth):
        print("  " * depth + m)
        for k in kids.get(m, []):
            show(k, depth + 1)
    if h["walk"]:
        print(f"\nthe walk of a sync (breadth first from cli::sync, 4 steps, modules naming "
              f"{'/'.join(WALK_WORDS)}):")
        show("cli::sync", 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", help="a commit to read instead of the work tree")
    ap.add_argument("--json", action="store_true", help="the numbers as JSON")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    h = measure(args.rev)
    if args.json:
        print(json.dumps(h, indent=1))
    else:
        draw(h)


if __name__ == "__main__":
    main()
