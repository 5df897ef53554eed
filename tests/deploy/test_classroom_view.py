"""The View controls on the Explore pages (issue 12): each page draws the ones it uses (the Gate
heatmaps page inside an st.fragment), and a value set on one page is the value on every other,
in the URL and in the figures. References: the heatmap JSON the page sends, decoded here."""
import json

from explorer.ui import state

from helpers import app, ok


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def panels(at):
    """(names of the heatmap panels, x0 of the first) of the Gate heatmaps figure."""
    maps = [t for t in charts(at)[0]["data"] if t["type"] == "heatmap"]
    return [t["name"] for t in maps], maps[0]["x0"]


def captions(at):
    return " ".join(c.value for c in at.caption)


def test_a_view_set_on_one_page_holds_on_every_page():
    at = app(query={"layers": "2"})
    at.selectbox(key="layer").set_value(1)
    at.selectbox(key="seq").set_value(2)
    at.multiselect(key="fields").set_value(["f", "c"])
    at.slider(key="window").set_value((5, 60))
    ok(at.run())
    assert panels(at) == (["f", "c"], 5) and "showing layer 1, sequence 2" in captions(at)
    ok(at.switch_page(state.UNITS).run())  # draws layer, sequence and window
    assert at.selectbox(key="layer").value == 1 and at.selectbox(key="seq").value == 2
    assert at.slider(key="window").value == (5, 60)
    assert "units of layer 1" in [m.label for m in at.multiselect]
    ok(at.switch_page(state.STEP).run())  # draws the layer only: the others are kept
    assert at.selectbox(key="layer").value == 1
    assert not [s for s in at.selectbox if s.key == "seq"]
    at.selectbox(key="layer").set_value(0)
    ok(at.run())
    ok(at.switch_page(state.GATES).run())
    assert at.selectbox(key="layer").value == 0 and at.selectbox(key="seq").value == 2
    assert at.multiselect(key="fields").value == ["f", "c"] and at.slider(key="window").value == (5, 60)
    assert panels(at) == (["f", "c"], 5) and "showing layer 0, sequence 2" in captions(at)
    assert at.query_params["seq"] in ("2", ["2"]) and list(at.query_params["fields"]) == ["f", "c"]


def test_a_link_to_another_page_opens_its_view():
    at = app("units", query={"layers": "2", "layer": "1", "seq": "3", "window": ["10", "30"]})
    assert at.selectbox(key="layer").value == 1 and at.selectbox(key="seq").value == 3
    assert at.slider(key="window").value == (10, 30)
    ok(at.switch_page(state.GATES).run())
    assert "showing layer 1, sequence 3" in captions(at) and panels(at)[1] == 10


def test_the_view_is_clamped_when_the_model_or_input_shrinks():
    at = app(query={"layers": "3", "batch": "4"})
    at.selectbox(key="layer").set_value(2)
    at.selectbox(key="seq").set_value(3)
    ok(at.run())
    at.number_input(key="layers").set_value(1)
    at.number_input(key="batch").set_value(2)
    ok(at.run())
    assert at.selectbox(key="layer").value == 0 and at.selectbox(key="seq").value == 1
    assert "showing layer 0, sequence 1" in captions(at) and not at.error


def test_no_panel_is_a_message_not_an_empty_figure():
    at = app()
    at.multiselect(key="fields").set_value([])
    ok(at.run())
    assert not at.get("plotly_chart") and any("at least one panel" in i.value for i in at.info)
    assert at.expander and any("The equations" == e.label for e in at.expander)  # the page goes on below
