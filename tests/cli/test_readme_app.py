"""The README's tour of the top bar names the app's sections as explorer/app.py builds them, in
their order, each page under its own section (issue 21: export was listed under Explore)."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sections():
    """{section: [page titles]} of app.py's PAGES, read from its source (running it needs Streamlit's runtime)."""
    tree = ast.parse((ROOT / "explorer" / "app.py").read_text())
    pages = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "PAGES" for t in n.targets))
    return {k.value: [next(kw.value.value for kw in call.keywords if kw.arg == "title") for call in v.elts]
            for k, v in zip(pages.keys, pages.values)}


def tour():
    """The README paragraph that starts 'In the app, the top bar has', on one line."""
    text = (ROOT / "README.md").read_text()
    start = text.index("In the app, the top bar has")
    return " ".join(text[start:text.index("\n\n", start)].split())


def test_the_readme_names_every_section_in_order_and_each_page_under_its_own():
    found = sections()
    said = tour()
    bold = re.findall(r"\*\*([^*]+)\*\*", said)
    assert bold == list(found), f"README: {bold}; app.py: {list(found)}"
    words = dict(zip(bold, re.split(r"\*\*[^*]+\*\*", said)[1:]))  # section -> its text, up to the next
    first = {section: {t.split()[0].lower() for t in titles} for section, titles in found.items()}
    for section, text in words.items():
        items = [x.strip(" ,.").split()[0].lower() for x in re.findall(r"\(([^)]*)\)", text)[0].split(",")
                 if x.strip(" ,.")]  # "(gate heatmaps, units and saturation, ...)" -> gate, units, ...
        for item in items:
            elsewhere = [s for s, f in first.items() if item in f and s != section]
            assert not elsewhere or item in first[section], f"README lists {item!r} under {section}, app.py under " \
                                                            f"{elsewhere[0]}"
