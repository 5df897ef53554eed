"""Write the screenshots the README and docs/ show (assets/explorer_*.png), from the running app.

    python assets/make_screenshots.py            # starts `streamlit run explorer/app.py` itself

Needs requirements-dev.txt (playwright, pytest) and a Chromium (CHROMIUM=..., default
/usr/bin/chromium). Each page is shot once it has finished running: no status widget, no
skeletons, its charts drawn.
"""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_explorer_browser import ARGS, CHROMIUM, hand_wired, serve  # noqa: E402  (the browser tests' own)

SHOTS = {  # file -> (path, text to wait for); hand_wired: the random model with units 0-2 wired by hand
    "explorer_demo.png": ("", "What to look for."),
    "explorer_gates.png": (hand_wired("?steps=120"), "Unit 0 is a memory"),
    "explorer_step.png": (hand_wired("step?t=28"), "Every number above matches"),
}
SETTLED = """() => !document.querySelector('[data-testid=stStatusWidget]')
    && !document.querySelector('[data-testid=stSkeleton]')
    && [...document.querySelectorAll('.js-plotly-plot')].every(g => g._fullLayout)"""


def settle(page):
    """Wait until the page has stopped running and stays so for a second."""
    for _ in range(2):
        page.wait_for_timeout(1000)
        page.wait_for_function(SETTLED, timeout=90_000)


def main():
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1800})
        for name, (path, ready) in SHOTS.items():
            page.goto(f"{url}/{path}")
            page.get_by_text(ready).first.wait_for(timeout=90_000)
            settle(page)
            page.screenshot(path=str(ROOT / "assets" / name))
            print("wrote", name)
        page.goto(f"{url}/debug")  # the Debug pages on the built-in example, then its findings
        page.get_by_role("button", name="Try the built-in example").click()
        page.get_by_text("Using the built-in example's model").wait_for(timeout=90_000)
        page.get_by_text("Debug your model", exact=True).first.click()  # the menu keeps the session
        page.get_by_text("Findings", exact=True).last.click()
        page.get_by_text("Take the findings away").first.wait_for(timeout=90_000)
        page.set_viewport_size({"width": 1600, "height": 1150})  # the findings end there
        settle(page)
        page.screenshot(path=str(ROOT / "assets" / "explorer_debug.png"))
        print("wrote explorer_debug.png")
        browser.close()


if __name__ == "__main__":
    main()
