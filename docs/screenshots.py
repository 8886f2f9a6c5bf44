"""Take the README's screenshots from a running demo (``make demo`` in another shell).

.venv/bin/python docs/screenshots.py [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "screenshots"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="max")
    parser.add_argument("--password", default="demo-pass-2026")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        page.goto(f"{args.url}/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{args.url}/")
        for name, path in [("dashboard", "/"), ("contacts", "/contacts/?q=fjord")]:
            page.goto(args.url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"))
        page.goto(f"{args.url}/contacts/")
        page.click("#contact-results tbody tr:first-child a")
        page.screenshot(path=str(OUT / "contact.png"))
        pages = {
            "queue": "/approvals/",
            "analytics": "/approvals/analytics/",
            "inbox": "/service/",
            "leads": "/leads/",
            "campaign": "/marketing/",
        }
        details = [("case", "/service/", "a[href^='/service/cases/']"), ("lead", "/leads/", "a[href^='/leads/']")]
        for name, listing, css in details:
            page.goto(args.url + listing)
            href = page.locator(css).first.get_attribute("href") or ""
            if re.match(r"^/(service/cases|leads)/\d+/$", href):
                pages[name] = href
        for width, suffix in [(1366, "desktop"), (390, "phone")]:
            page.set_viewport_size({"width": width, "height": 860})
            for name, path in pages.items():
                page.goto(args.url + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}-{suffix}.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 860})
        page.goto(f"{args.url}/")
        toggle = page.locator("button[aria-expanded]").first
        if toggle.count():
            toggle.click()
            page.screenshot(path=str(OUT / "menu-phone.png"))
        page.set_viewport_size({"width": 1366, "height": 860})
        page.goto(f"{args.url}/approvals/")
        link = page.locator("#queue-results tbody tr:first-child a").first
        if link.count():
            href = link.get_attribute("href") or ""
            if re.match(r"^/approvals/\d+/$", href):
                page.goto(args.url + href)
                page.screenshot(path=str(OUT / "review.png"))
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
