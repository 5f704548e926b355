"""Times pond's pages in headless Chromium, for benches/web.rs (issue 20's
targets): search results painted after the debounce, a long session
interactive, the fleet page with every host.

benches/web.rs builds the store, starts `pond serve` and passes everything in
POND_WEB_BENCH; this prints one JSON object of timings (milliseconds) on its
last line.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "web"))
from chromium import launch  # noqa: E402

CFG = json.loads(os.environ["POND_WEB_BENCH"])
BASE = CFG["url"].rstrip("/")
RUNS = int(CFG["runs"])
WAIT = 120_000


def mark(page, name):
    """The start time of the first performance mark `name`, waited for."""
    page.wait_for_function(
        "name => performance.getEntriesByName(name).length > 0", arg=name, timeout=WAIT
    )
    return page.evaluate("name => performance.getEntriesByName(name)[0].startTime", name)


def search_times(browser):
    """Debounce fired → results painted, for each query, in one open page
    (as a person types one search after another)."""
    page = browser.new_page()
    page.goto(BASE + "/search")
    page.wait_for_selector("#q", timeout=WAIT)
    times = []
    for i, query in enumerate(CFG["queries"] * (RUNS + 1)):
        before = page.evaluate("document.body.dataset.searchDone || '0'")
        page.fill("#q", query)
        page.wait_for_function(
            "prev => (document.body.dataset.searchDone || '0') !== prev", arg=before, timeout=WAIT
        )
        seq = page.evaluate("document.body.dataset.searchDone")
        painted = mark(page, "pond-search-painted-" + seq)
        started = mark(page, "pond-search-" + seq)
        hits = page.locator(".hit").count()
        if hits == 0:
            raise AssertionError(f"no hit painted for {query!r}")
        # The first pass warms the server's caches and the OS page cache.
        if i >= len(CFG["queries"]):
            times.append(painted - started)
    page.close()
    return times


def page_times(browser, path, name, check):
    """Navigation start → the page painted, on a fresh page each run."""
    times = []
    for run in range(RUNS + 1):
        page = browser.new_page()
        page.goto(BASE + path)
        painted = mark(page, name)
        check(page)
        page.close()
        if run > 0:
            times.append(painted)
    return times


def session_ready(page):
    if page.locator(".msg").count() == 0:
        raise AssertionError("the long session painted no message")
    # Interactive: the pager answers a click.
    page.click("#later", timeout=WAIT)


def fleet_ready(page):
    rows = page.locator("#hosts tr[data-host]").count()
    if rows < CFG["hosts"]:
        raise AssertionError(f"the fleet page shows {rows} hosts, not {CFG['hosts']}")


def main():
    with sync_playwright() as p:
        browser = launch(p)
        try:
            result = {
                "search": search_times(browser),
                "session": page_times(
                    browser,
                    "/session/" + CFG["long_session"],
                    "pond-session-painted",
                    session_ready,
                ),
                "fleet": page_times(browser, "/fleet", "pond-fleet-painted", fleet_ready),
            }
        finally:
            browser.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
