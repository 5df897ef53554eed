"""What a slide draws, from its view and the Subjects it shows (issue 13): figures, the cell
diagram, and a line on what the figure shows. It joins logic/ (the slide's Subjects) and
figures/ (what they draw), so it sits in ui/, as cache.heatmap does; it never imports streamlit.

    shown = render(slide, subjects)          # subjects: {claims.subject_key: Subject}, a cache
    shown.figures                            # [(name, go.Figure)], drawn in this order
    shown.svg, shown.lines                   # page "step": the cell diagram and its sentences
    svg, lines = step_diagram(s, view, t)    # one frame of the step animation

Pure (torch, numpy, plotly): the pages draw what this returns. Shapes: T steps, H units.
"""
from dataclasses import dataclass, field, replace

import numpy as np

from lstm_core.analysis import diagnostics

from ..figures import compare as compare_figs, diagram, heatmaps, slides as figs, text as text_figs
from ..logic import walkthrough
from ..logic.claims import clamped, picked, slide_step, slide_unit, subject, subject_key
from ..logic.compare import align_units, column_of, difference, grid_rows
from ..logic.roles import pick_rows
from ..logic.models import FEATURES, SHOWN


@dataclass
class Shown:
    figures: list = field(default_factory=list)  # [(name, go.Figure)]
    svg: str | None = None  # page "step": the cell diagram
    lines: list = field(default_factory=list)  # sentences on what is shown
    unit: int = 0  # the slide's unit (the first column's on page "compare")
    step: int = 0


def get_subject(subjects, view, variant=None):
    """The Subject of (view, variant) from the dict `subjects`, computed and added if missing."""
    key = subject_key(view, variant)
    if key not in subjects:
        subjects[key] = subject(view, variant)
    return subjects[key]


def _window(view, T):
    lo, hi = view.window or (0, T - 1)
    return lo, min(hi, T - 1)


def _labels(s):
    """(T, B) characters of the sample's symbols (brackets, text), or None."""
    voc = s.task.vocabulary
    if voc is None or s.sample.tokens is None:
        return None
    shown = np.array([SHOWN.get(ch, ch) for ch in voc], dtype=object)
    return shown[s.sample.tokens.numpy()].astype(str)


def feature_names(s):
    I = s.sample.x.shape[-1]
    return FEATURES.get(s.task.name) or (tuple(repr(ch) for ch in s.task.vocabulary) if s.task.vocabulary
                                         else tuple(f"x{k}" for k in range(I)))


def gates_figure(s, view, unit, step):
    """The explorer's gate heatmaps of the view's panels for its sequence, the unit framed, the step marked."""
    b, L = view.sequence, view.layer
    lo, hi = _window(view, s.trace.T)
    fields = {k: s.trace.get(k, L)[lo:hi + 1, b].T.float().numpy() for k in view.panels}  # (H, S) each
    x = s.sample.x[lo:hi + 1, b].float().numpy()  # (S, I)
    labels = _labels(s)
    fig = heatmaps.gate_heatmaps(fields, x, feature_names(s), start=lo, exact=True,
                                 labels=None if labels is None else labels[lo:hi + 1, b],
                                 follow=unit if "unit" in view.highlight else None)  # c's scale: the framed unit
    if "unit" in view.highlight:
        fig = heatmaps.mark_unit(fig, unit, f"unit {unit}", units=s.trace.hidden_size, inplace=True)  # new
        figs.marks_inside(fig)  # a slide's marks stay in the plot (issue 21: char-cells' unit 127)
    if "step" in view.highlight and lo <= step <= hi:
        fig.add_vline(x=step, line=dict(color=figs.MARK, width=3, dash="dot"))
    return fig


def step_diagram(s, view, t, unit=None):
    """(svg, sentences) of the cell diagram at step t for the view's sequence and unit, with the
    walk-through's numbers (recomputed from the weights, checked against the trace)."""
    unit = slide_unit(view, s) if unit is None else unit
    wt = walkthrough.walk(s.model.lstm, s.trace, s.sample.x, t, [view.sequence], [unit], view.layer)
    where = f"step {t}, sequence {view.sequence}, unit {unit}"
    return diagram.draw(s.trace.declaration, walkthrough.diagram_values(wt), where), walkthrough.describe(wt)


def unit_figure(s, view, unit, step):
    b, L = view.sequence, view.layer
    latent = view.latent or picked(s)["latent"]
    z = s.sample.latents[latent][:, b].numpy() if latent in s.sample.latents else None
    decl = s.trace.declaration  # its gates (i, f, o; r, z) and its memory (c; h)
    gates = {k: s.trace.get(k, L)[:, b, unit].float().numpy() for k in decl.gates}
    return figs.unit_story(gates, s.trace.get(decl.memory, L)[:, b, unit].float().numpy(), z, unit=unit,
                           latent_name=latent, step=step if "step" in view.highlight else None,
                           memory=(decl.memory, decl.field(decl.memory).title))


def memory_figure(s, view, unit, t0):
    b = view.sequence
    surv = diagnostics.survival(s.trace, layer=view.layer, t0=t0)[:, b]  # (T, H)
    flow = diagnostics.gradient_flow(s.model.lstm, s.sample.x[:, b:b + 1])  # one sequence: H backward passes
    return figs.memory(surv, flow, unit=unit, t0=t0), flow


def what_if_figure(s, view, unit):
    """The unit's memory (c of an LSTM, h of a GRU) and the answer, as trained and with the view's
    clamp; and the clamped metric."""
    k, b = view.clamp, view.sequence
    tr2, pred2 = clamped(s, k, unit, view.layer)
    mem = s.trace.declaration.memory
    c, c2 = s.trace.get(mem, view.layer)[:, b, unit].numpy(), tr2.get(mem, view.layer)[:, b, unit].numpy()
    if s.task.kind == "regression":
        y, y2 = s.pred[:, b, 0].numpy(), pred2[:, b, 0].numpy()
        target = np.where(s.sample.mask[:, b].numpy(), s.sample.y[:, b, 0].numpy(), np.nan)
    else:
        y, y2 = s.pred[:, b].argmax(-1).float().numpy(), pred2[:, b].argmax(-1).float().numpy()
        target = np.where(s.sample.mask[:, b].numpy(), s.sample.y[:, b].float().numpy(), np.nan)
    stop = s.trace.T - 1 if k.stop is None else k.stop
    label = f"{k.gate} clamped to {k.value:g}"
    fig = figs.what_if(c, c2, y, y2, unit=unit, target=target, clamp_steps=(k.start, stop), label=label,
                       memory=(mem, s.trace.declaration.field(mem).title))
    return fig, s.task.metric(pred2, s.sample)


def compare_panels(columns, row, grid=()):
    """[Panel per column] of one grid row (roles.Row): the field each column draws in it and its
    declared range, read from its declaration; where a column draws none, a label that says its
    cell has none, or where its field of that name is (a GRU's h: in the memory row c/h).
    grid: every row."""
    out = []
    for j, (col, name) in enumerate(zip(columns, row.names)):
        d = col.declaration
        if name is None:
            moved = next((r for r in grid if r.key != row.key and row.key in d.names and r.names[j] == row.key), None)
            why = f"the {d.title}'s {row.key} is in row {moved.key}" if moved else f"the {d.title} has no {row.key}"
            out.append(compare_figs.Panel(row.key, None, f"— ({why})"))
        else:
            out.append(compare_figs.Panel(name, d.field(name).range))
    return out


def compare_figure(columns, view, step=None, unit=None, pick=True):
    """compare_grid of Columns (explorer.logic.compare) for the view's sequence and window, and
    the rows its panels name (roles.pick_rows: a row holds each column's field of one role)."""
    b, L = view.sequence, view.layer
    grid = pick_rows(grid_rows(columns), view.panels)
    about = [compare_panels(columns, row, grid_rows(columns)) for row in grid]  # [row][column]
    out = []
    for j, col in enumerate(columns):
        tr = col.subject.trace
        lo, hi = _window(view, tr.T)
        out.append((f"{col.variant} (unit {col.unit}, r = {col.r:+.2f})",
                    {r.key: tr.get(r.names[j], L)[lo:hi + 1, b].T.float().numpy() for r in grid if r.names[j]},
                    col.unit, {r.key: about[k][j] for k, r in enumerate(grid)}))
    lo, _ = _window(view, columns[0].subject.trace.T)
    return compare_figs.compare_grid(out, [r.key for r in grid], step=step, unit=unit, start=lo, pick=pick)


def difference_figure(a, b, field, view, step=None, unit=None, field_b=None):
    """f (or another field) of column a minus `field_b` (default: the same) of b's aligned units,
    step and unit (of a) marked; None where sizes differ."""
    pairs = align_units(a, b)
    if pairs is None:
        return None
    d = difference(a, b, field, field_b, sequence=view.sequence, pairs=pairs)
    lo, hi = _window(view, d.shape[1])
    return compare_figs.difference(d[:, lo:hi + 1], a.variant, b.variant, field=field, field_b=field_b,
                                   pairs=pairs, start=lo, step=step, unit=unit)


def text_figure(s, view, unit):
    b = view.sequence
    text = s.sample.text[b] if s.sample.text is not None else None
    if text is None:
        return None
    mem = s.trace.declaration.memory  # c of an LSTM, h of a GRU
    values = s.trace.get(mem, view.layer)[:, b, unit].float().numpy()
    latent = view.latent
    title = f"the text coloured by {mem}[{unit}]" + (f", the cell that tracks {latent}" if latent else "")
    return text_figs.text_view(text, values, label=f"{mem}[{unit}]", title=title)


def render(slide, subjects, columns=None):
    """What `slide` shows: a Shown. subjects: {subject_key: Subject}, filled as needed (a cache);
    columns: page "compare", the explorer.logic.compare Columns if already computed."""
    v = slide.view
    if v.page == "compare":
        if columns is None:  # the slide's own subjects, run once (the claims check the same ones)
            columns = [column_of(get_subject(subjects, v, name)) for name in v.variants]
        step = slide_step(v, columns[0].subject)
        fig = compare_figure(columns, v, step if "step" in v.highlight or v.step is not None else None, pick=False)
        return Shown([("compare", fig)], lines=[f"{c.variant}: unit {c.unit} tracks {c.latent} (r = {c.r:+.2f})"
                                                for c in columns], unit=columns[0].unit, step=step)
    s = get_subject(subjects, v)
    unit, step = slide_unit(v, s), slide_step(v, s)
    shown = Shown(unit=unit, step=step)
    if v.page == "gates":
        shown.figures.append(("gates", gates_figure(s, v, unit, step)))
    elif v.page == "step":
        shown.svg, shown.lines = step_diagram(s, v, step, unit)
        shown.figures.append(("unit", unit_figure(s, replace(v, highlight=("step",)), unit, step)))
    elif v.page == "units":
        shown.figures.append(("unit", unit_figure(s, v, unit, step)))
    elif v.page == "memory":
        fig, flow = memory_figure(s, v, unit, step)
        shown.figures.append(("memory", fig))
        g = diagnostics.gradient_summary(flow)
        shown.lines.append(f"‖∂c_T/∂c_t‖ stays above 1% of its value at the last step for "
                           f"{int(g[g.quantity == 'dc_T/dc_t'].horizon.iloc[0])} steps back.")
    elif v.page == "whatif":
        fig, metric = what_if_figure(s, v, unit)
        shown.figures.append(("whatif", fig))
        shown.lines.append(f"{s.task.metric_name}: {s.metric:.3g} as trained, {metric:.3g} with "
                           f"{v.clamp.gate} clamped (baseline {s.baseline:.3g}).")
    elif v.page == "text":
        fig = text_figure(s, v, unit)
        if fig is not None:
            shown.figures.append(("text", fig))
    return shown


__all__ = ["Shown", "render", "step_diagram", "gates_figure", "unit_figure", "memory_figure", "what_if_figure",
           "compare_figure", "compare_panels", "difference_figure", "text_figure", "get_subject"]
