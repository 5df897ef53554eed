"""The demo models in a real browser (issue 5): each shipped task opens with its caption and
heatmaps, without an exception; screenshots of each go to test-artifacts/ to be looked at.

Same server and Chromium as test_explorer_browser.py (skips without them).
"""
import re

import pytest

from lstm_core.tasks import TASKS
from test_explorer_browser import browser, needs_browser, open_page, shot  # noqa: F401  (browser: a fixture)


@needs_browser
@pytest.mark.parametrize("task", list(TASKS))
def test_each_demo_opens_with_its_caption(browser, task):  # noqa: F811
    page = open_page(browser, "" if task == "recall" else f"?task={task}", own_defaults=True)
    page.get_by_text("What to look for.").wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # Plotly finishes painting
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text(TASKS[task].title).first.is_visible()
    assert page.locator(".js-plotly-plot").count() >= 1
    shot(page, f"demo_{task}")
    page.close()


@needs_browser
def test_unit_finder_text_view_and_training_pages(browser):  # noqa: F811
    page = open_page(browser, "finder?task=charlm", own_defaults=True, ready="Units that track")
    page.wait_for_timeout(1000)
    shot(page, "demo_unit_finder")
    page.goto(browser[0] + "/text?task=charlm")
    page.get_by_text("Text coloured by a unit").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    shot(page, "demo_text_view")
    page.goto(browser[0] + "/train?tr_steps=100")  # a short run: the test waits for it
    page.get_by_role("button", name="Start").click()
    page.get_by_text("Done after").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "demo_training")
    # followed to its end, the page shows the final weights, not those of the last poll (issue 10, item 2)
    assert page.get_by_text(re.compile(r"^At step 100\.")).count() == 1
    # the button sits in the polling fragment: its click must still leave for the explorer (issue 10)
    page.get_by_role("button", name=re.compile(r"^Open step 100 in the explorer$")).click()
    page.get_by_text("What the gates of an LSTM do, step by step").wait_for(timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()
