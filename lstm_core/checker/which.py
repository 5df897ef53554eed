"""Which cell a student wrote, an LSTM or a GRU: as the arguments say, else as the module is called.

Four gate blocks are an LSTM's and per-gate names (W_f or W_r) tell on their own (`readings`);
three fused blocks may be a GRU's r, z, n or a coupled LSTM's f, g, o, and only the call tells
them apart: a GRU cell takes (x, h) and returns h, an LSTM's (x, (h, c)) and returns (h, c).
"""
from . import conventions, gru_conventions
from .layouts import CheckError


def asked(cell, variant, reset):
    """The cell the arguments ask for ("lstm", "gru" or None: found from the module)."""
    if cell not in (None, "lstm", "gru"):
        raise CheckError(f"cell: the checker knows 'lstm' and 'gru', got {cell!r}")
    if variant not in (None, "standard", "coupled", "gru"):
        raise CheckError(f"variant: the checker knows 'standard' and 'coupled' (an LSTM's), or 'gru', got {variant!r}")
    if reset not in (None, "after", "before"):
        raise CheckError(f"reset: a GRU's is 'after' (torch.nn.GRU) or 'before' (Cho et al. 2014), got {reset!r}")
    asked = {cell} - {None}
    if variant == "gru" or reset is not None:
        asked.add("gru")
    if variant in ("standard", "coupled"):
        asked.add("lstm")
    if len(asked) > 1:
        raise CheckError(f"cell={cell!r}, variant={variant!r}, reset={reset!r} ask for both an LSTM and a GRU: "
                         "variant= is an LSTM's ('standard', 'coupled'), reset= a GRU's ('after', 'before')")
    return asked.pop() if asked else None


def called_as(module, I, H, call):
    """3 gate blocks: a GRU's r, z, n or a coupled LSTM's f, g, o; the way the module is called decides."""
    if call is not None:
        raise CheckError("your module has 3 gate blocks: a GRU's r, z, n or an LSTM's f, g, o without the input "
                         "gate, and call= cannot tell which; say cell='gru' or cell='lstm' (--cell gru|lstm)")
    try:
        gru_conventions.detect(module, I, H)
        return "gru"
    except CheckError as as_gru:
        try:
            conventions.detect(module, I, H)
            return "lstm"
        except CheckError as as_lstm:
            raise CheckError(f"your module has 3 gate blocks: a GRU's r, z, n or an LSTM's f, g, o without the "
                             f"input gate, and it answers neither call. As a GRU: {as_gru}\nAs an LSTM: {as_lstm}\n"
                             "Say which it is: cell='gru' or cell='lstm' (--cell gru|lstm)") from None


def lstm_convention(module, I, H, call, gates):
    """`conventions.detect`, whose error says so when 3 blocks read as an LSTM's are called like a GRU."""
    try:
        return conventions.detect(module, I, H, call)
    except CheckError as e:
        if gates != "fgo" or call is not None:
            raise
        try:
            gru_conventions.detect(module, I, H)
        except CheckError:
            raise e from None
        raise CheckError(f"{e}\nYour module has 3 gate blocks and is called like a GRU, forward(x, h) -> h: if it "
                         "is one, say cell='gru' (--cell gru), or leave cell out") from None
