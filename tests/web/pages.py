"""pond's pages in headless Chromium (rule 49), driven by Playwright.

Started by tests/integration/web.rs, which builds the archive, starts
`pond serve` and passes everything in POND_WEB_CONFIG. Each check prints one
line; the first failure raises and fails the test.
"""

import json
import os
import subprocess
import time
from urllib.parse import unquote, urlparse

from playwright.sync_api import sync_playwright

from chromium import launch

CFG = json.loads(os.environ["POND_WEB_CONFIG"])
BASE = CFG["url"].rstrip("/")
ORIGIN = urlparse(BASE).netloc
SHOTS = CFG["shots"]
AXE = open(CFG["axe"], encoding="utf-8").read()
WAIT = 20_000

def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def sign_in(page, token, then="/"):
    page.goto(BASE + "/signin?next=" + then)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_function("() => document.body.dataset.page !== 'signin'", timeout=WAIT)


def search(page, query):
    before = page.evaluate("document.body.dataset.searchDone || ''")
    page.fill("#q", query)
    page.wait_for_function(
        "prev => document.body.dataset.searchDone && document.body.dataset.searchDone !== prev",
        arg=before,
        timeout=WAIT,
    )


def open_session(page):
    page.wait_for_function("() => !!document.body.dataset.sessionReady", timeout=WAIT)


def axe(page, name):
    """No serious or critical violation on the page (axe-core)."""
    page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    check(not bad, f"axe on the {name} page: no serious or critical violations {bad}")


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=False)


def watch(page):
    """Everything the page asks for, every dialog and every console error."""
    seen = {"requests": [], "dialogs": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))

    def on_dialog(d):
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda m: seen["errors"].append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def no_cookie_no_data(browser, page):
    page.goto(BASE + "/?q=flaky")
    page.wait_for_url("**/signin?next=*", timeout=WAIT)
    check(page.locator("#token").is_visible(), "without a cookie the search page asks to sign in")
    status = page.evaluate("fetch('/v1/status').then(r => r.status)")
    check(status == 401, f"without a cookie the API answers 401 (got {status})")
    check("flaky" not in page.inner_text("main"), "without a cookie no result is shown")
    shot(page, "signin")
    axe(page, "sign-in")


def search_and_session(browser, page):
    sign_in(page, CFG["reader"])
    check(page.evaluate("document.cookie") == "", "the token cookie is HttpOnly: scripts cannot read it")
    search(page, "zebra migration")
    groups = page.locator("#results article.group")
    check(groups.count() >= 1, "hits are grouped by session")
    check(page.locator("#results mark").count() >= 1, "matched words are highlighted")
    shot(page, "search")
    axe(page, "search")
    # Keyboard: down selects the first hit, enter opens it at its message.
    page.focus("#q")
    page.keyboard.press("ArrowDown")
    first = page.locator("#results a.hit.selected")
    check(first.count() == 1, "the down arrow selects the first hit")
    href = first.get_attribute("href")
    page.keyboard.press("Enter")
    open_session(page)
    message_id = href.split("#m-", 1)[1]
    check("#m-" in page.url, "enter opens the session at the matched message")
    target = page.locator(".msg.target")
    check(target.count() == 1, "the matched message is marked")
    check(
        target.get_attribute("id") == "m-" + unquote(message_id),
        "the marked message is the hit's",
    )
    # `/` from anywhere focuses the search box.
    page.goto(BASE + "/")
    page.locator("body").press("/")
    check(page.evaluate("document.activeElement.id") == "q", "/ focuses the search box")

    # A session with tool calls: one expands.
    page.goto(BASE + "/session/" + CFG["parent_session"])
    open_session(page)
    call = page.locator("details.tool-call").first
    check(call.count() == 1, "tool calls are folded")
    call.locator("summary").click()
    check(call.evaluate("d => d.open"), "a tool call expands")
    shot(page, "session")
    axe(page, "session")
    # Subagent links go both ways.
    page.wait_for_selector(".subagent-link", timeout=WAIT)
    page.locator(".subagent-link").first.click()
    page.wait_for_function(
        "parent => document.body.dataset.sessionReady && document.body.dataset.sessionReady !== parent",
        arg=CFG["parent_session"],
        timeout=WAIT,
    )
    back = page.locator("#parent-link")
    check(back.count() == 1, "a subagent links to its parent")
    back.click()
    page.wait_for_function(
        "parent => document.body.dataset.sessionReady === parent", arg=CFG["parent_session"], timeout=WAIT
    )
    page.wait_for_selector(".subagent-link", timeout=WAIT)
    check(page.locator(".subagent-link").count() >= 1, "the parent links to its subagent")
    # A deep link copied from a message opens at that message in a new page.
    links = page.locator("a.permalink")
    deep = links.nth(min(3, links.count() - 1)).get_attribute("href")
    other = page.context.new_page()
    other.goto(BASE + deep)
    open_session(other)
    wanted = "m-" + unquote(deep.split("#m-", 1)[1])
    check(other.locator(".msg.target").get_attribute("id") == wanted, "a deep link opens its message in a new page")
    # The resume command and the raw download.
    check(page.input_value("#resume-command").startswith("pond resume "), "the resume command is offered")
    with page.expect_download() as download:
        page.click("#download-raw")
    check(download.value.suggested_filename.endswith(".jsonl"), "the raw export downloads")


def filters(browser, page):
    sign_in(page, CFG["reader"])
    search(page, "flaky retry")
    before = page.locator("#results article.group").count()
    check(before >= 2, f"both teams' sessions match at first ({before})")
    page.fill("#f-project", "team-a")
    page.wait_for_function("() => location.search.includes('project=team-a')", timeout=WAIT)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results article.group header a')].every(a => a.textContent.includes('team-a'))",
        timeout=WAIT,
    )
    check(True, "the project filter narrows the results")
    page.reload()
    page.wait_for_function("() => !!document.body.dataset.searchDone", timeout=WAIT)
    check(page.input_value("#f-project") == "team-a", "filters survive a reload")
    check(page.input_value("#q") == "flaky retry", "the query survives a reload")
    headers = page.locator("#results article.group header a").all_inner_texts()
    check(headers and all("team-a" in h for h in headers), f"the reloaded results keep the filter {headers}")
    page.fill("#f-tool", "NoSuchTool")
    page.wait_for_selector("#empty", timeout=WAIT)
    check("filters exclude every message" in page.inner_text("#empty"), "an empty result says the filters excluded everything")


def fleet(browser, page):
    sign_in(page, CFG["reader"], "/fleet")
    page.wait_for_selector("#hosts tr[data-host='old-laptop']", timeout=WAIT)
    check(
        "stale" in (page.get_attribute("#hosts tr[data-host='old-laptop']", "class") or ""),
        "a host without a sync for a week is shown stale",
    )
    check(
        "stale" not in (page.get_attribute("#hosts tr[data-host='laptop']", "class") or ""),
        "a host that synced today is not",
    )
    waiting = page.inner_text("#backlog .cards")
    check("Waiting" in waiting and "28.0/s" in waiting, f"the search backlog shows what waits and the fleet's rate ({waiting!r})")
    check(page.locator("#drains tr[data-host='gpu-box']").count() == 1, "each host's last drain of the backlog is listed")
    bars = page.locator("#runs-chart rect[data-outcome='ok']").count()
    check(bars >= 2, f"runs over time show a bar on each day with runs ({bars})")
    shot(page, "fleet")
    axe(page, "fleet")
    page.wait_for_function("() => document.getElementById('live').textContent.startsWith('live')", timeout=WAIT)
    env = dict(os.environ)
    env.update(CFG["sync_env"])
    subprocess.run(CFG["sync_argv"], env=env, check=True, capture_output=True)
    page.wait_for_selector("#hosts tr[data-host='live-host']", timeout=30_000)
    check(True, "a sync made while the fleet page is open appears without a reload")


def stored_image(browser, page):
    sign_in(page, CFG["reader"], "/session/" + CFG["image_session"])
    open_session(page)
    page.wait_for_selector("img.stored-image", timeout=WAIT)
    # Images load lazily: bring the first into view, as a reader scrolling would.
    page.locator("img.stored-image").first.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.stored-image')].some(i => i.complete && i.naturalWidth > 0)",
        timeout=WAIT,
    )
    check(True, "a screenshot the user pasted is shown in the transcript")


def spend(browser, page):
    sign_in(page, CFG["reader"], "/spend?since=3650d")
    page.wait_for_selector("table.usage[data-by='model'] tbody tr", timeout=WAIT)
    check(page.locator("#day-chart rect").count() >= 1, "spend per day is charted")
    shot(page, "spend")
    axe(page, "spend")


def limited_token(browser, page):
    sign_in(page, CFG["team"])
    search(page, "flaky retry")
    texts = page.inner_text("#results")
    check("team-a" in texts and "team-b" not in texts, "a team token's search shows only its project")
    listed = page.evaluate("fetch('/v1/sessions?limit=1000').then(r => r.json())")
    projects = {s["project"] for s in listed["sessions"]}
    check(projects and all(p.startswith("/work/team-a") for p in projects), f"its session list holds only its project {projects}")
    page.goto(BASE + "/session/" + CFG["hostile_session"])
    page.wait_for_selector("main .error", timeout=WAIT)
    check(page.locator(".msg").count() == 0, "another project's session by URL shows nothing")
    check("checkout" not in page.inner_text("main"), "and none of its text")
    page.goto(BASE + "/session/" + CFG["team_session"])
    open_session(page)
    check(page.locator(".msg").count() >= 1, "its own session opens")
    page.click("#signout")
    page.wait_for_url("**/signin", timeout=WAIT)
    page.goto(BASE + "/?q=flaky")
    page.wait_for_url("**/signin?next=*", timeout=WAIT)
    status = page.evaluate("fetch('/v1/sessions').then(r => r.status)")
    check(status == 401, "after signing out the API refuses the browser")
    csrf = page.evaluate(
        "fetch('/web/signin', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({token: 'nope'})}).then(r => r.status)"
    )
    check(csrf == 401, "a wrong token does not sign in")


def cookie_needs_csrf_header(browser, page):
    sign_in(page, CFG["reader"])
    without = page.evaluate(
        "fetch('/v1/search', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({query: 'flaky'})}).then(r => r.status)"
    )
    check(without == 403, f"a cookie request that changes state needs the CSRF header (got {without})")


def hostile(browser, page):
    seen = watch(page)
    sign_in(page, CFG["reader"])
    search(page, "hostile script")
    page.goto(BASE + "/session/" + CFG["hostile_session"])
    open_session(page)
    for details in page.locator("details").all():
        details.locator("summary").click()
    body = page.inner_text("#transcript")
    check("<script>alert('script')</script>" in body, "markup in a message is shown as text")
    check(page.locator("#transcript script, #transcript img, #transcript iframe").count() == 0, "no element a message holds is created")
    check(
        page.locator("#transcript a[href^='javascript']").count() == 0,
        "a javascript: link is not a link",
    )
    check(page.locator("#transcript .long").count() >= 1, "the 5 MB message is shown as plain text")
    # Still answering: a click and a script run after the huge message.
    started = time.monotonic()
    page.locator("#copy-resume").click()
    page.evaluate("1 + 1")
    print(f"note: a click after the 5 MB message answered in {time.monotonic() - started:.2f} s", flush=True)
    check(not seen["dialogs"], f"no dialog opened {seen['dialogs']}")
    foreign = [u for u in seen["requests"] if urlparse(u).netloc != ORIGIN]
    check(not foreign, f"no request left the server's origin {foreign}")
    check(not seen["errors"], f"no console error {seen['errors']}")


def share_action(browser, page):
    sign_in(page, CFG["sharer"], "/session/" + CFG["team_session"])
    open_session(page)
    page.click("#share")
    page.wait_for_selector("#share-preview", timeout=WAIT)
    check(page.locator("#share-expires").input_value() == "7d", "a link lasts a week unless changed")
    page.click("#make-share")
    page.wait_for_selector("#share-link", timeout=WAIT)
    link = page.locator("#share-link").input_value()
    check("/s/" in link, f"the link is made and shown {link}")
    page.wait_for_selector("#live-shares tbody tr", timeout=WAIT)
    check(page.locator("#live-shares tbody tr").count() == 1, "the session lists its live link")
    axe(page, "session with its share panel")
    shot(page, "share-panel")

    # Anyone with the link, signed in or not, sees that session and nothing else.
    stranger = browser.new_context()
    view = stranger.new_page()
    seen = watch(view)
    answer = view.goto(link)
    check(answer.status == 200, f"the link opens without signing in (got {answer.status})")
    check("flaky retry in the payment client" in view.inner_text("main"), "it shows the shared transcript")
    check(view.locator("script").count() == 0, "the share page runs no script")
    check(view.locator("a").count() == 0, "it links nowhere: no search, no other session")
    check(view.locator("input, form").count() == 0, "it has no search box or form")
    foreign = [u for u in seen["requests"] if urlparse(u).path not in (urlparse(link).path, "/assets/share.css")]
    check(not foreign, f"it asks for nothing but itself and its styles {foreign}")
    check(not seen["errors"], f"no console error {seen['errors']}")
    status = view.evaluate("fetch('/v1/sessions').then(r => r.status)")
    check(status == 401, f"the link opens no API (got {status})")
    shot(view, "share")
    axe(view, "share")

    # Revoked from the session page: the link says so at once.
    page.click(".revoke-share")
    page.wait_for_selector("#share-list .note", timeout=WAIT)
    check(page.locator("#live-shares").count() == 0, "a revoked link leaves the list")
    answer = view.reload()
    check(answer.status == 410, f"a revoked link answers 410 (got {answer.status})")
    check("has ended" in view.inner_text("main"), "and says the share has ended")
    check("flaky" not in view.inner_text("main"), "with none of the session")
    axe(view, "ended share")
    stranger.close()


def stats_token(browser, page):
    sign_in(page, CFG["lead"], "/")
    page.wait_for_function("() => document.body.dataset.page === 'fleet'", timeout=WAIT)
    check(True, "a stats token lands on the fleet page")
    check(page.locator('header nav a[data-page="search"]').is_hidden(), "it is offered no search")
    page.goto(BASE + "/session/" + CFG["team_session"])
    page.wait_for_function("() => document.body.dataset.page === 'fleet'", timeout=WAIT)
    check(page.locator(".msg").count() == 0, "a session's URL shows it no transcript")
    page.goto(BASE + "/spend?since=3650d")
    page.wait_for_selector("table.usage[data-by='model'] tbody tr", timeout=WAIT)
    check(True, "it reads the spend page")
    status = page.evaluate("fetch('/v1/sessions').then(r => r.status)")
    check(status == 403, f"the API refuses it every transcript (got {status})")


def main():
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for test in (
                no_cookie_no_data,
                search_and_session,
                filters,
                fleet,
                stored_image,
                spend,
                limited_token,
                cookie_needs_csrf_header,
                hostile,
                share_action,
                stats_token,
            ):
                print(f"== {test.__name__}", flush=True)
                # Each check in a context of its own: no cookie carries over.
                context = browser.new_context()
                try:
                    test(browser, context.new_page())
                finally:
                    context.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main()
