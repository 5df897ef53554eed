"""Loading PyTorch weights: state dicts, checkpoints, modules, safetensors; refusing pickled code."""
import io
import pickle

import pytest
import torch
from torch import nn

import lstm_core
from helpers.equations import close
from helpers import Payload, Tagger
from lstm_core.io.loaders import LoadError, detect_format, find_candidates, load
from lstm_core.io.loaders.common import describe
from lstm_core.io.loaders.pytorch import require_safe_torch


class TwoLSTMs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.LSTM(3, 4)
        self.b = nn.LSTM(4, 5, proj_size=2)


class OwnLSTM(nn.Module):
    """A hand-written LSTM that kept nn.LSTM's parameter names."""

    def __init__(self):
        super().__init__()
        ref = nn.LSTM(3, 4)
        for name, p in ref.named_parameters():
            self.register_parameter(name, nn.Parameter(p.detach().clone()))
        self.ref = [ref]  # not a submodule


def same_outputs(model, ref, x):
    model.eval(), ref.eval()
    out, (h, c) = model(x)
    want, (wh, wc) = ref(x)
    close(out, want, 1e-6)
    close(h, wh, 1e-6)
    close(c, wc, 1e-6)


def test_checkpoint_with_nested_state_dict(tmp_path):
    t = Tagger()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": t.state_dict(), "optimizer": torch.optim.Adam(t.parameters()).state_dict(),
                "epoch": 3, "config": {"lr": 0.1}}, path)
    model = load(path, batch_first=True)
    assert model.load_info.format == "torch"
    assert model.load_info.chosen == ("model.encoder.rnn.",)
    assert [c.name for c in model.load_info.candidates] == ["model.encoder.rnn."]
    assert (model.num_layers, model.bidirectional, model.batch_first, model.training) == (2, True, True, False)
    same_outputs(model, t.encoder.rnn, torch.randn(3, 7, 6))


def test_plain_state_dict_records_what_it_assumed(tmp_path):
    ref = nn.LSTM(4, 5)
    torch.save(ref.state_dict(), tmp_path / "w.pth")
    model = load(tmp_path / "w.pth")
    assert model.load_info.assumed == {"batch_first": False}
    assert load(tmp_path / "w.pth", batch_first=True).load_info.assumed == {}
    same_outputs(model, ref, torch.randn(6, 2, 4))


@pytest.mark.parametrize("prefix", ["b.", "b"])
def test_several_lstms_need_a_prefix(tmp_path, prefix):
    m = TwoLSTMs()
    torch.save(m.state_dict(), tmp_path / "two.pt")
    with pytest.raises(LoadError, match=r"two.pt: holds 2 LSTMs: 'a.' LSTM\(3 -> 4\); 'b.' LSTM\(4 -> 5\); "
                                        r"choose one with prefix= \(command line: --prefix\)"):
        load(tmp_path / "two.pt")
    model = load(tmp_path / "two.pt", prefix=prefix)
    assert model.load_info.chosen == ("b.",) and model.proj_size == 2
    same_outputs(model, m.b, torch.randn(5, 2, 4))
    with pytest.raises(LoadError, match=r"no LSTM weights under prefix 'c.'; found \['a.', 'b.'\]"):
        load(tmp_path / "two.pt", prefix="c.")


def test_module_passed_directly():
    t = Tagger()
    model = load(t)
    assert model.load_info.format == "module" and model.load_info.chosen == ("encoder.rnn",)
    assert model.batch_first  # taken from the nn.LSTM
    same_outputs(model, t.encoder.rnn, torch.randn(2, 5, 6))
    with pytest.raises(LoadError, match=r"TwoLSTMs: holds 2 LSTMs: 'a' LSTM\(3 -> 4\); 'b' LSTM\(4 -> 5\); "
                                        r"choose one with layer="):
        load(TwoLSTMs())
    with pytest.raises(LoadError, match=r"batch_first come from the LSTM itself; leave them out"):
        load(t, batch_first=False)


def test_module_without_nn_lstm_falls_back_to_keys():
    m = OwnLSTM()
    model = load(m)
    assert model.load_info.chosen == ("",)
    same_outputs(model, m.ref[0], torch.randn(4, 2, 3))


def test_lstm_cell_and_our_own_model():
    cell = nn.LSTMCell(3, 4)
    model = load(cell)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    want_h, want_c = cell(x, (h, c))
    _, (got_h, got_c) = model(x[None], (h[None], c[None]))
    close(got_h[0], want_h, 1e-6)
    close(got_c[0], want_c, 1e-6)
    ours = lstm_core.LSTM(3, 4, variant="coupled")
    assert load(ours) is ours
    with pytest.raises(LoadError, match=r"already an lstm_core.LSTM; options \['seed'\] apply only when building"):
        load(ours, seed=1)


def test_variant_weights_with_three_gate_blocks(tmp_path):
    ours = lstm_core.LSTM(3, 4, variant="no_forget_gate")
    torch.save(ours.state_dict(), tmp_path / "nfg.pt")
    # 3 gate blocks are also a GRU's: asked about, GRU among the choices, never taken as an LSTM
    with pytest.raises(LoadError, match=r"nfg.pt: weight_hh_l0 has 3 gate blocks \(12 rows for H = 4\): the weights "
                                        r"of a GRU \(torch.nn.GRU\) or of an LSTM with a gate less.*Choose with "
                                        r"variant='gru' for a GRU, or an LSTM variant: 'coupled', 'no_input_gate', "
                                        r"'no_forget_gate', 'no_output_gate' \(command line: --variant gru\)"):
        load(tmp_path / "nfg.pt")
    model = load(tmp_path / "nfg.pt", variant="no_forget_gate")
    x = torch.randn(5, 2, 3)
    close(model(x)[0], ours(x)[0], 0.0)


def test_safetensors_from_path_bytes_and_upload(tmp_path):
    from safetensors.torch import save, save_file

    t = Tagger()
    save_file(t.state_dict(), tmp_path / "tagger.safetensors", metadata={"task": "pos"})
    model = load(tmp_path / "tagger.safetensors", batch_first=True)
    assert model.load_info.format == "safetensors"
    assert model.load_info.extras["metadata"] == {"task": "pos"}
    same_outputs(model, t.encoder.rnn, torch.randn(2, 5, 6))
    data = save(t.state_dict())
    assert load(data, batch_first=True).load_info.source == "<bytes>"
    upload = io.BytesIO(data)
    upload.name = "weights.safetensors"
    assert load(upload, batch_first=True).load_info.source == "weights.safetensors"


def test_find_candidates_without_building(tmp_path):
    torch.save(TwoLSTMs().state_dict(), tmp_path / "two.pt")
    assert [(c.name, c.summary) for c in find_candidates(tmp_path / "two.pt")] == [
        ("a.", "LSTM(3 -> 4)"), ("b.", "LSTM(4 -> 5)")]
    assert [c.name for c in find_candidates(Tagger())] == ["encoder.rnn"]
    assert [c.name for c in find_candidates(Tagger().state_dict())] == ["encoder.rnn."]
    assert describe(3, 4, 2, True, "peephole") == "LSTM(3 -> 4, 2 layers, bidirectional, peephole)"


# --- refusing files that would run code --------------------------------------------------------------

@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    if how == "torch.save":  # the zip archive, with real tensors beside the payload
        torch.save({"weight_ih_l0": torch.zeros(4, 1), "hook": Payload(marker)}, path)
    else:  # a bare pickle, torch.load's legacy format
        path.write_bytes(pickle.dumps({"step": 3, "hook": Payload(marker)}, protocol=2))
    with pytest.raises(LoadError, match=r"evil.pt: refused: this file needs arbitrary unpickling \(it holds "
                                        r"(posix|nt|builtins)\.(system|open)\), which could run code from the file, "
                                        r"so it was not loaded.*safetensors.torch.save_file"):
        load(path)
    assert not marker.exists()
    # the payload is real: plain pickle would have run it
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, and users still have such files
def test_pickled_module_and_torchscript_are_refused(tmp_path):
    torch.save(nn.LSTM(2, 3), tmp_path / "whole.pt")
    with pytest.raises(LoadError, match=r"it holds torch.nn.modules.rnn.LSTM\).*torch.save\(model.state_dict\(\), "
                                        r"'weights.pt'\)"):
        load(tmp_path / "whole.pt")
    torch.jit.save(torch.jit.script(nn.LSTM(2, 3)), tmp_path / "scripted.pt")
    with pytest.raises(LoadError, match=r"refused: a TorchScript archive \(torch.jit.save\) holds code"):
        load(tmp_path / "scripted.pt")


def test_old_torch_is_refused():
    with pytest.raises(LoadError, match=r"x.pt: refused: torch 2.5.1 has known holes in "
                                        r"torch.load\(weights_only=True\) \(CVE-2025-32434, CVE-2026-24747\); "
                                        r"upgrade to torch >= 2.10"):
        require_safe_torch("x.pt", "2.5.1")
    require_safe_torch("x.pt", "2.10.0+cpu")


# --- mismatches name the key, the expected and the found shape --------------------------------------

def _sd(**changes):
    sd = dict(nn.LSTM(3, 4, 2).state_dict())
    for key, value in changes.items():
        if value is None:
            del sd[key]
        else:
            sd[key] = value
    return {f"enc.{k}": v for k, v in sd.items()}


MISMATCHES = [
    (dict(weight_hh_l1=torch.zeros(16, 5)), r"weight_hh_l1: expected shape \(16, 4\), found \(16, 5\)"),
    (dict(weight_ih_l1=torch.zeros(16, 3)), r"weight_ih_l1: expected shape \(16, 4\), found \(16, 3\)"),
    (dict(bias_hh_l1=None), r"missing \['bias_hh_l1'\]"),
    (dict(weight_hh_l0=None), r"enc.weight_hh_l0: missing \(found enc.weight_ih_l0 without it\)"),
    (dict(weight_hh_l0=torch.zeros(20, 4)), r"enc.weight_hh_l0: expected \(G\*H, P\) with G = 4 gate blocks "
                                            r"\(3 for a variant with a gate less\) and H = 4, found shape \(20, 4\), "
                                            r"which fits no LSTM variant"),
    (dict(weight_hh_l0=torch.zeros(16)), r"enc.weight_hh_l0: expected a matrix \(G\*H, P\), found shape \(16,\)"),
]


@pytest.mark.parametrize("changes,message", MISMATCHES)
def test_mismatch_messages(changes, message):
    with pytest.raises(LoadError, match=message):
        load(_sd(**changes))


ERRORS = [
    (lambda p: load(p / "missing.pt"), r"missing.pt: no such file"),
    (lambda p: load(3.5), r"expected a path, bytes, a binary file object or an nn.Module, got float"),
    (lambda p: load(b"just some bytes"), r"<bytes>: cannot tell the format from its contents or name; pass format="),
    (lambda p: load(b"12345678", format="tf"), r"format: expected one of torch, safetensors, keras, onnx, got 'tf'"),
    (lambda p: load({"x": torch.zeros(2)}), r"state_dict: no LSTM weights found: no key ends in weight_ih_l0"),
    (lambda p: load(nn.Linear(2, 3)), r"Linear: no LSTM weights found"),
    (lambda p: load(p / "w.pt", prefix="a", layer="b"), r"prefix and layer both choose the LSTM: pass one of them"),
]


@pytest.mark.parametrize("call,message", ERRORS)
def test_error_messages(tmp_path, call, message):
    torch.save(nn.LSTM(2, 3).state_dict(), tmp_path / "w.pt")
    with pytest.raises(LoadError, match=message):
        call(tmp_path)


def test_not_a_torch_file(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02 not really a pickle")
    with pytest.raises(LoadError, match=r"junk.pt: not a PyTorch file torch.load\(weights_only=True\) can read"):
        load(tmp_path / "junk.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(LoadError, match=r"list.pt: holds list with no tensors, not a state dict"):
        load(tmp_path / "list.pt")


def test_detect_format_by_contents(tmp_path):
    from lstm_core.io.loaders import _source
    from safetensors.torch import save

    torch.save(nn.LSTM(2, 3).state_dict(), tmp_path / "noext")
    assert detect_format(_source(tmp_path / "noext")) == "torch"
    assert detect_format(_source(save({"a": torch.zeros(2)}))) == "safetensors"
