"""A lecturer's walk through the app in Chromium, start to end (issue 13, "done means"): open
the app, pick a lesson, present it with the keyboard, compare three variants on one input and
pick a cell, save a new slide from an Explore page, and reopen it from its file and from its link.

Opt-in (about a minute and a half): LESSONS_WALK=1 python -m pytest tests/explorer/test_lessons_walk.py -n 0
Screenshots of each stage: test-artifacts/walk-*.png.
"""
import os

import pytest

from explorer.logic.lessons import parse_lesson, shipped_lessons
from test_lessons_browser import wait_for_slide
from test_explorer_browser import ARGS, ARTIFACTS, CHROMIUM, FINGERPRINT, needs_browser, number_input, serve, \
    sync_playwright

pytestmark = [needs_browser, pytest.mark.skipif(os.environ.get("LESSONS_WALK") != "1",
                                                reason="the lecturer's walk is opt-in: LESSONS_WALK=1")]


def shot(page, name):
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"))


def test_a_lecturer_walks_through_the_app(tmp_path):
    memory = shipped_lessons()["memory"]
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
            # 1. the app opens; Lessons in the top bar lists the lessons
            page.goto(url)
            page.wait_for_function(FINGERPRINT, timeout=120_000)
            page.get_by_role("button", name="Lessons").first.click()  # the top bar's section
            page.locator('a[href$="/lessons"]').first.click()  # its first page (icon, then the title)
            page.get_by_text(memory.title).first.wait_for(timeout=60_000)
            shot(page, "1-lessons")
            # 2. Present the memory lesson; the keyboard moves through it; Esc leaves the presenter view
            page.locator('a[href*="lesson=memory"][href*="present=1"]').first.click()  # its Present
            N = len(memory.slides)
            wait_for_slide(page, 1, N, memory.slides[0])
            for n in range(2, N + 1):
                page.keyboard.press("ArrowRight")
                wait_for_slide(page, n, N, memory.slides[n - 1])
                assert f"slide={n}" in page.url and "present=1" in page.url
            shot(page, "2-presented-last-slide")
            page.keyboard.press("Escape")
            page.wait_for_function("() => !location.search.includes('present=1')", timeout=30_000)
            page.get_by_role("button", name="Present (presenter view)").wait_for(timeout=60_000)
            # 3. three variants on one input, a shared control changed (test_compare_browser.py clicks a cell)
            page.goto(f"{url}/compare?task=recall&variants=standard,coupled,peephole")
            page.wait_for_function(FINGERPRINT, timeout=120_000)
            before = page.evaluate(FINGERPRINT)
            number_input(page, "input seed", 3)
            page.wait_for_function(f"() => {{ const f = ({FINGERPRINT})(); return f && f !== {before!r}; }}",
                                   timeout=60_000)
            page.wait_for_function("() => location.search.includes('input_seed=3')", timeout=30_000)
            shot(page, "3-compare")
            # 4. a new slide from an Explore page: the gate heatmaps of a shipped model
            page.goto(f"{url}/?source=shipped&task=recall&input=task")
            page.wait_for_function(FINGERPRINT, timeout=120_000)
            page.get_by_text("Save this view as a slide").click()
            page.get_by_label("slide title").fill("The coupled model's gates")
            page.get_by_label("narration (2-4 sentences for students)").fill(
                "Each row is a unit. The forget gate of the memory unit stays open.")
            page.get_by_role("button", name="Add to my lesson").click()
            page.get_by_role("button", name="Download my lesson (.toml)").wait_for(timeout=60_000)
            shot(page, "4-saved-a-slide")
            with page.expect_download() as d:
                page.get_by_role("button", name="Download my lesson (.toml)").click()
            path = tmp_path / d.value.suggested_filename
            d.value.save_as(path)
            lesson = parse_lesson(path.read_bytes(), path.name)
            assert [s.title for s in lesson.slides] == ["The coupled model's gates"]
            # 5. reopen it from its file, in a fresh session (another browser page)
            other = browser.new_page(viewport={"width": 1600, "height": 1000})
            other.goto(f"{url}/lessons")
            other.get_by_text("Open a lesson file").wait_for(timeout=60_000)
            other.locator("input[type=file]").set_input_files(str(path))
            other.locator("a", has_text=f"Open '{lesson.title}'").first.click()
            wait_for_slide(other, 1, 1, lesson.slides[0])
            other.get_by_text("The coupled model's gates").first.wait_for(timeout=30_000)
            shot(other, "5-reopened-from-the-file")
            link = other.locator("code", has_text="lesson_data=").first.inner_text().strip()
            # 6. and from its link, in a third session
            third = browser.new_page(viewport={"width": 1600, "height": 1000})
            third.goto(f"{url}/{link}&present=1")
            wait_for_slide(third, 1, 1, lesson.slides[0])
            third.get_by_text("The coupled model's gates").first.wait_for(timeout=30_000)
            assert not third.locator('[data-testid="stSidebar"]').is_visible()
            shot(third, "6-reopened-from-the-link")
        finally:
            browser.close()
