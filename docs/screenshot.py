"""Take the README's screenshots of an audit page in headless chromium (Debian's package):
the top of the page (counts, flags, segments with contact sheets, one opened) as the given
picture, the timeline and the map beside it (report-timeline.png, report-map.png).

    make demo && .venv/bin/python docs/screenshot.py [demo/reports/audit.html] [docs/report.png]
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
        page.wait_for_selector("#timeline .scatterlayer .point", timeout=20_000)
        page.locator("#segments tr.seg.look").first.click()  # a segment that needs a look, open
        page.screenshot(path=out, full_page=False)
        for part in ("timeline", "map"):
            target = Path(out).with_name(f"{Path(out).stem}-{part}.png")
            page.locator(f"#section-{part}").screenshot(path=str(target))
            print(f"wrote {target}")
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
