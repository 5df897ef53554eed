"""A lesson presented in a real browser at 1280x720: a screenshot per slide in test-artifacts/,
the arrow keys move the slide and the URL follows, no sidebar and no navigation (issue 13).

`streamlit run` on a free port, headless Chromium through Playwright with Debian's browser
(`executable_path`; set CHROMIUM=...); skips with the reason when either is missing.
LESSONS_BROWSER_LESSON picks another lesson (default: counting, 3 slides).
"""
import os

from explorer.logic.lessons import shipped_lessons
from test_explorer_browser import ARGS, ARTIFACTS, CHROMIUM, needs_browser, serve, sync_playwright

LESSON = os.environ.get("LESSONS_BROWSER_LESSON", "counting")
pytestmark = needs_browser


SETTLED = """([counter, narration]) => {
    const text = document.querySelector('.lesson-narration'), count = document.querySelector('.lesson-counter');
    return !!(text && count && text.innerText.startsWith(narration) && count.innerText.startsWith(counter)
              && !document.querySelector('[data-stale="true"]')
              && (document.querySelector('.lesson-diagram svg') || (document.querySelector('.js-plotly-plot')
                  && document.querySelector('.js-plotly-plot')._fullLayout))); }"""


def wait_for_slide(page, n, N, slide):
    """Until slide n's counter, narration and figure (or cell diagram) are drawn, and nothing is stale."""
    page.wait_for_function(SETTLED, arg=[f"{n} / {N}", slide.narration[:40]], timeout=90_000)
    page.wait_for_timeout(800)  # plotly's transition, Streamlit's fade-in


def test_present_a_lesson_with_the_keyboard_at_1280x720():
    lesson = shipped_lessons()[LESSON]
    N = len(lesson.slides)
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/?lesson={LESSON}&slide=1&present=1")
            for n, slide in enumerate(lesson.slides, start=1):
                wait_for_slide(page, n, N, slide)
                assert f"lesson={LESSON}" in page.url and f"slide={n}" in page.url
                page.screenshot(path=str(ARTIFACTS / f"lesson-{LESSON}-{n}.png"))
                assert not page.locator('[data-testid="stSidebar"]').is_visible()
                assert not page.locator('[data-testid="stHeader"]').is_visible()
                assert page.locator('[data-testid="stNavigation"], [data-testid="stTopNavLinkContainer"]').count() == 0 \
                    or not page.locator('[data-testid="stTopNavLinkContainer"]').first.is_visible()
                size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.lesson-narration'))"
                                     ".fontSize)")
                assert size >= 24, f"narration font {size}px"
                bottom = page.locator(".st-key-ls_next button").bounding_box()
                assert bottom["y"] + bottom["height"] <= 720, f"slide {n}: Next is below the 720px screen"
                if n < N:
                    page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowLeft")
            wait_for_slide(page, N - 1, N, lesson.slides[N - 2])
            assert f"slide={N - 1}" in page.url
        finally:
            browser.close()
