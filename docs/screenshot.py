"""Take the README's screenshot of an audit page in headless chromium (Debian's package).

    .venv/bin/python docs/screenshot.py [demo/reports/audit.html] [docs/report.png]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(page_path: str = "demo/reports/audit.html", out: str = "docs/report.png") -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(Path(page_path).absolute().as_uri())
        page.wait_for_selector(".plotly", timeout=20_000)
        page.screenshot(path=out, full_page=False)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
