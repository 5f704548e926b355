"""Debian's Chromium, launched the one way the page tests and the page
benchmark (benches/web.py) both need."""

# As the machine's probe runs it: no background requests, which this
# machine's closed network would refuse (and which would look like requests
# leaving the page).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def launch(playwright):
    """Headless Chromium from the `chromium` package (Playwright's own
    browser download cannot be reached here)."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
