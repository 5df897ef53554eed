"""The compiled trace kernel (lstm_core.kernel): the same numbers as the reference loop and
tests/helpers/equations.py for every variant and option, and guarded fallbacks when it is missing,
disabled or wrong.

The kernel is built once into LSTM_CORE_KERNEL_DIR (.ci/run builds it before the tests).
Tests that need it skip with the reason where it is not built: a build takes 30 s to
minutes, which a test run must not spend unannounced (LSTM_CORE_TEST_BUILD=1 builds it).
"""
import logging
import os
import re
import sys

import pytest
import torch

import lstm_core
from helpers.equations import close, run_equations, variant_kwargs
from lstm_core import kernel
from lstm_core.__main__ import main as cli
from lstm_core.cells.lstm_cell import Cell, LayerWeights
from lstm_core.engine.reference import run_reference
from lstm_core.kernel import build, wrapper
from lstm_core.cells.variants import REGISTRY, sigmoid_gates

F32 = torch.float32
TOL = 2e-5  # float32 kernel against float64 references
CELLS = [(v, REGISTRY[v].peephole, "current", ("sigmoid",)) for v in lstm_core.VARIANTS]
CELLS += [(v, True, po, ("sigmoid",)) for v in ("standard", "coupled", "no_forget_gate", "no_output_activation")
          for po in ("current", "previous")]
CELLS += [("standard", False, "current", ("hard_sigmoid", 0.2, 0.5)),
          ("coupled", True, "previous", ("hard_sigmoid", 1 / 6, 0.5))]


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    """Each test sees the kernel module as a new process would, and leaves it so."""
    saved = dict(kernel._state)
    monkeypatch.delenv(kernel.ENV, raising=False)
    yield
    kernel._state.clear()
    kernel._state.update(saved)


@pytest.fixture(scope="module")
def ext():
    path = build.built_path()
    if path is None:
        why = build.why_not_buildable()
        if why:
            pytest.skip(f"the kernel cannot be built here: {why}")
        if os.environ.get("LSTM_CORE_TEST_BUILD") != "1":
            pytest.skip("the kernel is not built: run `python -m lstm_core build-kernel` (or LSTM_CORE_TEST_BUILD=1)")
        path = build.build()
    module = build.load_built(path)
    kernel.self_test(module)
    return module


@pytest.fixture
def use_kernel(ext):
    kernel._state.update(ext=ext, tried=True, reason=None, logged=False)
    return ext


def _weights(cell, I, H, P, dtype, gen):
    v = cell.variant
    G, Pn = len(v.gates), P or H
    r = lambda *s: (torch.randn(*s, generator=gen, dtype=torch.float64) * 0.6).to(dtype)  # noqa: E731
    return LayerWeights(r(G * H, I), r(G * H, Pn), r(G * H), r(G * H), r(P, H) if P else None,
                        r(len(sigmoid_gates(v)), H) if cell.peephole else None,
                        r(3 * H, 3 * H) if v.gate_recurrence else None)


def _f64(w):
    return LayerWeights(*(None if t is None else t.double() for t in vars(w).values()))


@pytest.mark.parametrize("P", [0, 3])
@pytest.mark.parametrize("variant,peephole,peep_out,act", CELLS)
def test_one_layer_matches_the_reference_loop_across_chunks(use_kernel, monkeypatch, variant, peephole,
                                                            peep_out, act, P):
    # 2 steps per chunk: every chunk boundary hands h, c and the gate recurrence on
    monkeypatch.setattr(wrapper, "CHUNK_ELEMENTS", 2 * 3 * 4 * 5)
    cell = Cell(REGISTRY[variant], peephole, peep_out, act)
    gen = torch.Generator().manual_seed(1)
    T, B, I, H = 7, 3, 4, 5
    w = _weights(cell, I, H, P, F32, gen)
    x, h0, c0 = (torch.randn(*s, generator=gen) for s in ((T, B, I), (B, P or H), (B, H)))
    want_g, want_c, want_h = run_reference(cell, _f64(w), x.double(), h0.double(), c0.double())[3]
    g, c = torch.empty(T, B, 4, H), torch.empty(T, B, H)
    h, h_n, c_n = wrapper.run_compiled(use_kernel, cell, w, x, h0, c0, None, g, c)
    for got, want in ((g, want_g), (c, want_c), (h, want_h), (h_n, want_h[-1]), (c_n, want_c[-1])):
        close(got.double(), want, TOL)


@pytest.mark.parametrize("gemm", ["mkl", "panel", "mm"])
@pytest.mark.parametrize("B", [1, 5, 9])
@pytest.mark.parametrize("variant,P", [("standard", 0), ("full_gate_recurrence", 3)])
def test_every_per_step_gemm_matches_the_reference(use_kernel, monkeypatch, gemm, B, variant, P):
    # B = 1, 5, 9: the panel GEMM's row blocks of 4 and every remainder; H = 7: 4H = 28 and
    # 3H = 21 columns end in a partial panel of 24; W_hh, W_gg and W_hr all take this GEMM
    monkeypatch.setenv(wrapper.GEMM_ENV, gemm)
    cell = Cell(REGISTRY[variant], False, "current", ("sigmoid",))
    gen = torch.Generator().manual_seed(3)
    T, I, H = 5, 4, 7
    w = _weights(cell, I, H, P, F32, gen)
    x, h0, c0 = (torch.randn(*s, generator=gen) for s in ((T, B, I), (B, P or H), (B, H)))
    want_g, want_c, want_h = run_reference(cell, _f64(w), x.double(), h0.double(), c0.double())[3]
    g, c = torch.empty(T, B, 4, H), torch.empty(T, B, H)
    h, _, _ = wrapper.run_compiled(use_kernel, cell, w, x, h0, c0, None, g, c)
    for got, want in ((g, want_g), (c, want_c), (h, want_h)):
        close(got.double(), want, TOL)


def test_auto_takes_the_panel_gemm_up_to_its_row_limit(use_kernel):
    # the measured rule (trace_kernel.cpp, kPanelMaxRows): the panel GEMM (a 3-D panel layout)
    # up to 32 rows, MKL's packed GEMM (1-D) or at::mm (empty) above
    if not use_kernel.panel_gemm():
        pytest.skip("built without AVX2 and FMA: no panel GEMM")
    w = torch.randn(28, 7)
    assert use_kernel.PANEL_MAX_ROWS == 32
    assert use_kernel.pack(w, 32, wrapper.GEMMS["auto"]).shape == (2, 7, 24)
    assert use_kernel.pack(w, 33, wrapper.GEMMS["auto"]).dim() == 1


def test_an_unknown_gemm_is_refused(use_kernel, monkeypatch):
    monkeypatch.setenv(wrapper.GEMM_ENV, "blas")
    with pytest.raises(ValueError, match="LSTM_CORE_KERNEL_GEMM: expected one of auto, mkl, panel, mm, got 'blas'"):
        with torch.no_grad():
            lstm_core.LSTM(3, 4).trace(torch.randn(2, 1, 3), method="compiled")


LAYOUTS = [  # (num_layers, bidirectional, proj_size, bias, lengths and state, go_backwards)
    (2, True, 0, True, True, False), (1, True, 0, True, False, False), (1, False, 2, False, False, False),
    (2, False, 0, True, True, True),
    (1, False, 0, True, True, True)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: "L{}{}p{}{}{}{}".format(
    l[0], "bi" if l[1] else "", l[2], "" if l[3] else "nobias", "len" if l[4] else "", "back" if l[5] else ""))
@pytest.mark.parametrize("variant,peephole,peep_out,act", CELLS[:9] + CELLS[-1:])
def test_trace_on_the_kernel_matches_the_equations(use_kernel, variant, peephole, peep_out, act, layout):
    L, bi, proj, bias, with_state, back = layout
    m = lstm_core.LSTM(3, 4, L, variant=variant, bidirectional=bi, proj_size=proj, bias=bias, peephole=peephole,
                       peephole_output=peep_out, gate_activation=act, go_backwards=back, init="normal")
    T, B, LD, P = 6, 3, L * (2 if bi else 1), proj or 4
    x = torch.randn(T, B, 3)
    state = (torch.randn(LD, B, P), torch.randn(LD, B, 4)) if with_state else None
    lengths = torch.tensor([6, 3, 1]) if with_state else None
    params = {k: t.detach().double() for k, t in m.named_parameters()}
    want = run_equations(params, x.double(), h0=state and state[0].double(), c0=state and state[1].double(),
                         lengths=lengths, **variant_kwargs(m))
    with torch.no_grad():
        tr = m.trace(x, state, lengths=lengths)
    assert tr.method == "compiled"
    for name in ("i", "f", "g", "o", "c", "h", "output", "h_n", "c_n"):
        close(getattr(tr, name).double(), want[name], TOL)


@pytest.fixture
def two_threads():
    """Two torch threads for one test (the suite runs on one per worker)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("B", [70, 8])
@pytest.mark.parametrize("variant", ["peephole", "full_gate_recurrence"])
def test_wide_batches_run_threaded_rows_and_agree_with_the_loop(use_kernel, two_threads, variant, B):
    # B = 70: rows of 4*64 floats split among threads; B = 8: the panel GEMM's panels split
    m = lstm_core.LSTM(8, 64, variant=variant, init="normal")
    x = torch.randn(5, B, 8)
    with torch.no_grad():
        got, loop = m.trace(x, method="compiled"), m.trace(x, method="loop")
        want = m.double().trace(x.double(), method="loop")
    for name in ("gates", "c", "h", "h_n", "c_n"):
        # |c| reaches 8 here: float32 rounding is the same on both paths (measured 3-7e-5)
        err = close(getattr(got, name).double(), getattr(want, name), 2e-4)
        assert err <= 2 * close(getattr(loop, name).double(), getattr(want, name), 2e-4) + 1e-6


def test_float16_record_is_filled_from_float32(use_kernel):
    m = lstm_core.LSTM(3, 8, 2, init="normal")
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        half, full = m.trace(x, store_dtype=torch.float16), m.trace(x, method="loop")
    assert half.method == "compiled" and half.gates.dtype == torch.float16
    close(half.gates.float(), full.gates, 1e-3)
    close(half.c.float(), full.c, 1e-3)


@pytest.mark.parametrize("record", [torch.float16, None], ids=["float16-record", "no-record"])
def test_chunked_scratch_buffers_carry_state_and_last_steps(use_kernel, monkeypatch, record):
    # 2 steps per chunk, lengths ending in different chunks: the float32 scratch of one chunk
    # hands c on, fills the float16 record, and keeps c_n at each sequence's own last step
    monkeypatch.setattr(wrapper, "CHUNK_ELEMENTS", 2 * 3 * 4 * 5)
    m = lstm_core.LSTM(3, 5, 2, variant="peephole", bidirectional=True, init="normal")
    x, lengths = torch.randn(7, 3, 3), torch.tensor([7, 4, 1])
    with torch.no_grad():
        want = m.trace(x, lengths=lengths, method="loop")
        if record is None:  # forward of a cell nn.LSTM cannot run: the kernel with no record
            out, (h_n, c_n) = m(x, lengths=lengths)
            got = {"output": out, "h_n": h_n, "c_n": c_n}
        else:
            tr = m.trace(x, lengths=lengths, store_dtype=record)
            assert tr.method == "compiled" and tr.gates.dtype == record
            got = {k: getattr(tr, k) for k in ("gates", "c", "h", "output", "h_n", "c_n")}
    for name, t in got.items():
        close(t.float(), getattr(want, name), 2e-3 if t.dtype == torch.float16 else 1e-5)


def test_auto_takes_the_kernel_only_where_it_runs(use_kernel, monkeypatch):
    m = lstm_core.LSTM(3, 4, variant="peephole")
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        assert m.trace(x).method == "compiled"
        assert m.double().trace(x.double()).method == "loop"  # float64 stays on the Python paths
    m.float()
    assert m.trace(x).method == "reference"  # gradients wanted
    monkeypatch.setenv(kernel.ENV, "fallback")
    with torch.no_grad():
        assert m.trace(x).method == "loop"
        assert lstm_core.LSTM(3, 4).trace(x).method == "workspace"  # the no-compiler path for fused cells
        with pytest.raises(ValueError, match="method='compiled' needs the compiled kernel.*LSTM_TRACE_PATH=fallback"):
            m.trace(x, method="compiled")


def test_no_kernel_falls_back_with_one_log_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path))  # an empty cache
    kernel._state.update(ext=None, tried=False, reason=None, logged=False)
    m = lstm_core.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    with caplog.at_level(logging.WARNING, logger="lstm_core.kernel"), torch.no_grad():
        a, b = m.trace(x), m.trace(x)
    assert a.method == b.method == "workspace"
    lines = [r.getMessage() for r in caplog.records if r.name == "lstm_core.kernel"]
    assert len(lines) == 1, lines
    assert "without the compiled kernel" in lines[0] and "python -m lstm_core build-kernel" in lines[0]
    with pytest.raises(ValueError, match="method='compiled' needs the compiled kernel.*not built"):
        m.trace(x, method="compiled")
    monkeypatch.setenv(kernel.ENV, "compiled")
    with pytest.raises(RuntimeError, match="LSTM_TRACE_PATH=compiled, but the compiled trace kernel cannot run"):
        with torch.no_grad():
            m.trace(x)


def test_unknown_trace_path_is_refused(monkeypatch):
    monkeypatch.setenv(kernel.ENV, "fastest")
    with pytest.raises(ValueError, match="LSTM_TRACE_PATH: expected one of auto, compiled, fallback, got 'fastest'"):
        with torch.no_grad():
            lstm_core.LSTM(3, 4).trace(torch.randn(2, 1, 3))


class _Corrupt:
    """A kernel that computes right but then breaks c at the last step it writes."""

    def __init__(self, ext):
        self.ext = ext

    def __getattr__(self, name):  # pack, step_error: the real kernel's
        return getattr(self.ext, name)

    def recur(self, *a):
        self.ext.recur(*a)
        a[2][-1] += 1.0  # c


def test_a_kernel_failing_its_per_call_check_is_dropped(use_kernel, caplog):
    kernel._state["ext"] = _Corrupt(use_kernel)
    m = lstm_core.LSTM(3, 4, variant="no_output_activation", init="normal")
    x = torch.randn(6, 2, 3)
    with caplog.at_level(logging.WARNING, logger="lstm_core.kernel"), torch.no_grad():
        got = m.trace(x)  # chosen as compiled, computed by the fallback
        want = m.trace(x, method="reference")
        again = m.trace(x)
    close(got.c, want.c, 1e-5)
    close(got.h, want.h, 1e-5)
    assert got.method == again.method == "loop"  # chosen as compiled, computed on the loop: the trace says so
    assert kernel.reason().startswith("it failed on a call (last step inconsistent")
    assert sum("failed on a call" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(RuntimeError, match="self-test: variant 'standard' .*last step inconsistent"):
        kernel.self_test(_Corrupt(use_kernel))


def test_last_step_check_is_exact_for_a_true_step():
    cell = Cell(REGISTRY["standard"], False, "current")
    gen = torch.Generator().manual_seed(2)
    w = _weights(cell, 3, 4, 0, F32, gen)
    x, h0, c0 = torch.randn(4, 2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
    g, c, h = run_reference(cell, w, x, h0, c0)[3]
    wrapper.check_last_step(cell, w, g[-1], c[-2], c[-1], h[-1])
    with pytest.raises(wrapper.KernelMismatch, match=r"\|h - o act\(c\)\| = 0.5"):
        wrapper.check_last_step(cell, w, g[-1], c[-2], c[-1], h[-1] + 0.5)


@pytest.mark.parametrize("variant,P", [("standard", 0), ("no_output_activation", 0), ("peephole", 3)])
def test_the_kernel_s_step_check_agrees_with_the_python_one(use_kernel, variant, P):
    cell = Cell(REGISTRY[variant], REGISTRY[variant].peephole, "current")
    gen = torch.Generator().manual_seed(4)
    w = _weights(cell, 3, 5, P, F32, gen)
    x, h0, c0 = torch.randn(4, 2, 3), torch.randn(2, P or 5), torch.randn(2, 5)
    g, c, h = (t.contiguous() for t in run_reference(cell, w, x, h0, c0)[3])
    for ext in (None, use_kernel):  # a true step passes both
        wrapper.check_last_step(cell, w, g[-1], c[-2], c[-1], h[-1], ext=ext)
    for bad_c, bad_h, what in ((0.25, 0.0, r"\|c - \(f c' \+ i g\)\| = 0.25"), (0.0, 0.5, r"\|h - o act\(c\)\| = 0.5")):
        cc, hh = c[-1].clone(), h[-1].clone()
        cc[1, 2] += bad_c
        hh[0, -1] += bad_h
        if bad_c:  # h recomputed from the broken c, so that only c's update is wrong
            u = g[-1, :, 3] * (torch.tanh(cc) if cell.variant.output_activation else cc)
            hh = (u @ w.w_hr.T if P else u).contiguous()
        for ext in (None, use_kernel):
            with pytest.raises(wrapper.KernelMismatch, match=what):
                wrapper.check_last_step(cell, w, g[-1], c[-2], cc, hh, ext=ext)


def test_cache_key_follows_torch_compiler_and_cpu(monkeypatch):
    key = build.cache_key("g++")
    assert key == build.cache_key("g++") and len(key) == 16
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    assert build.cache_key("g++") != key
    monkeypatch.undo()
    monkeypatch.setattr(build, "cpu_flags", lambda: "sse2")
    assert build.cache_key("g++") != key
    monkeypatch.undo()
    monkeypatch.setattr(build, "_compiler_version", lambda cxx: "clang 99")
    assert build.cache_key("g++") != key


def _planted(root):
    """A would-be kernel binary in the cache under `root` (garbage bytes: loading it would fail
    with an ELF error, so a message naming the folder proves the guard refused it first)."""
    d = root / build.cache_key()
    d.mkdir(parents=True)
    so = d / (build.NAME + ".cpython.so")
    so.write_bytes(b"not a shared object")
    d.chmod(0o755)
    so.chmod(0o644)
    return so


@pytest.mark.parametrize("where, says", [("key", "is writable by other users (mode 777; `chmod go-w "),
                                          ("root", "is writable by other users (mode 777; `chmod go-w "),
                                          ("file", "is writable by other users (mode 666; `chmod go-w ")])
def test_a_kernel_others_could_have_written_is_never_loaded(tmp_path, monkeypatch, where, says):
    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    so = _planted(root)
    {"key": lambda: so.parent.chmod(0o777), "root": lambda: root.chmod(0o777), "file": lambda: so.chmod(0o666)}[where]()
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(root))
    monkeypatch.delitem(sys.modules, build.NAME, raising=False)
    assert build.built_path() == so
    with pytest.raises(build.UntrustedKernel, match=f"not loaded: .*{re.escape(says)}.*; set LSTM_CORE_KERNEL_DIR"):
        build.load_built(so)
    kernel._state.update(ext=None, tried=False, reason=None, logged=False)
    assert kernel.kernel() is None
    assert kernel.reason().startswith("a built kernel is there but not loaded: ") and says in kernel.reason()


def test_a_kernel_behind_a_link_or_outside_the_cache_is_never_loaded(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    so = _planted(real)
    (tmp_path / "cache").symlink_to(real)
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path / "cache"))
    monkeypatch.delitem(sys.modules, build.NAME, raising=False)
    with pytest.raises(build.UntrustedKernel, match="cache is a symbolic link"):
        build.load_built(tmp_path / "cache" / so.parent.name / so.name)
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(build.UntrustedKernel, match="is not inside the kernel cache"):
        build.load_built(so)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give a file to another user")
def test_a_kernel_folder_of_another_user_is_never_loaded(tmp_path, monkeypatch):
    so = _planted(tmp_path)
    os.chown(so.parent, 12345, 12345)
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path))
    monkeypatch.delitem(sys.modules, build.NAME, raising=False)
    with pytest.raises(build.UntrustedKernel, match="belongs to another user \\(uid 12345\\)"):
        build.load_built(so)


def test_build_refuses_a_cache_others_can_write(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o777)
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(root))
    if build.why_not_buildable():
        pytest.skip(f"the kernel cannot be built here: {build.why_not_buildable()}")
    with pytest.raises(build.BuildError, match="shared is writable by other users \\(mode 777; .*a folder of your own"):
        build.build()


def test_cache_folders_are_made_private_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path / "cache"))
    old = os.umask(0)
    try:
        build.make_dirs(build.cache_dir("k"))
    finally:
        os.umask(old)
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o755
    assert build.untrusted(build.cache_dir("k")) is None


def test_the_built_kernel_s_own_cache_is_trusted(ext):
    assert build.untrusted(build.built_path()) is None


def test_cli_info_names_every_path_and_why_not(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LSTM_CORE_KERNEL_DIR", str(tmp_path))
    kernel._state.update(ext=None, tried=False, reason=None, logged=False)
    assert cli(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("compiled", "replay", "loop", "reference", "workspace", "cuda"):
        assert f"  {name} " in out
    assert "compiled   no   it is not built for this torch, compiler and CPU (run `python -m lstm_core build-kernel`" in out


def test_cli_info_names_the_built_kernel_s_gemm(use_kernel, capsys):
    assert cli(["info"]) == 0
    out = capsys.readouterr().out
    want = "per-step GEMM: our panel GEMM for B <= 32" if use_kernel.panel_gemm() else "per-step GEMM: "
    assert f"compiled   yes  every variant, float32 on the CPU; {want}" in out


def test_cli_build_kernel_without_a_compiler_says_why(monkeypatch, capsys):
    monkeypatch.setattr(build, "compiler", lambda: None)
    assert cli(["build-kernel"]) == 1
    assert "error: cannot build the trace kernel: no C++ compiler (install g++, or set CXX)" in capsys.readouterr().err


@pytest.mark.parametrize("fill", [float("nan"), float("inf"), -1e30], ids=["nan", "inf", "garbage"])
@pytest.mark.parametrize("variant,bi,back", [("standard", True, False), ("peephole", False, True)])
def test_padding_never_reaches_the_kernel_s_results(use_kernel, variant, bi, back, fill):
    m = lstm_core.LSTM(3, 4, 2, variant=variant, bidirectional=bi, go_backwards=back, init="normal")
    lengths = torch.tensor([7, 4, 1])
    x = torch.randn(7, 3, 3)
    pad = torch.arange(7).unsqueeze(1) >= lengths  # (T, B)
    dirty = x.clone()
    dirty[pad] = fill
    x[pad] = 0
    with torch.no_grad():
        want, tr = m.trace(x, lengths=lengths, method="loop"), m.trace(dirty, lengths=lengths, check_finite=False)
    assert tr.method == "compiled" and kernel.reason() is None
    for name in ("gates", "c", "h", "output", "h_n", "c_n"):
        close(getattr(tr, name), getattr(want, name), 1e-5)
    assert (tr.output[pad] == 0).all() and tr.c[:, pad].isnan().all()
