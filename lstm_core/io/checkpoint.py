"""Checkpoints: a `TaskModel`'s weights in safetensors beside a JSON sidecar that says what they are.

    save_checkpoint("assets/models/recall-coupled", model, meta)
        -> recall-coupled.safetensors (the state dict) and recall-coupled.json
    model, meta = load_checkpoint("assets/models/recall-coupled")

The sidecar holds the caller's meta (task, vocabulary, training steps, seed, metric,
the command that made it, see `lstm_core.train`) plus what loading needs: the model's
sizes and the weights file's SHA-256, so a sidecar never loads weights from another run.
Every error names the file and what was expected.
"""
import hashlib
import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..limits import Limits
from ..tasks.model import TaskModel

FORMAT = "lstm-gate-explorer/checkpoint"
VERSION = 1
MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"  # the shipped checkpoints
# shipped for every task in lstm_core.tasks.TASKS: three LSTM variants and a GRU (lstm_core.zoo names them)
SHIPPED_VARIANTS = ("standard", "coupled", "peephole", "gru")
_REQUIRED = ("format", "version", "model", "weights")


def checkpoint_paths(path):
    """(weights, sidecar) for a checkpoint named by its stem, its .safetensors or its .json path."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def shipped_checkpoint(task, variant):
    """The path stem of the shipped checkpoint for a task and variant (it may not exist)."""
    return MODELS_DIR / f"{task}-{variant}"


def save_checkpoint(path, model, meta):
    """Write model's weights and a JSON sidecar with meta; returns (weights, sidecar) paths.

    model: a `TaskModel`. meta: a JSON-ready dict; its keys "model" and "weights" are
    written here and may not be passed.
    """
    if not isinstance(model, TaskModel):
        raise TypeError(f"model: expected an lstm_core.tasks.TaskModel, got {type(model).__name__}")
    if not isinstance(meta, dict):
        raise TypeError(f"meta: expected a dict, got {type(meta).__name__}")
    clash = sorted(set(meta) & set(_REQUIRED))
    if clash:
        raise ValueError(f"meta: keys {', '.join(clash)} are written by save_checkpoint, not passed in")
    weights, sidecar = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    doc = {"format": FORMAT, "version": VERSION, "model": model.config(), **meta}
    try:
        json.dumps(doc)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta: not JSON-serialisable: {e}") from e
    save_file(state, str(weights), metadata={"format": FORMAT})
    doc["weights"] = {"file": weights.name, "sha256": _sha256(weights), "bytes": weights.stat().st_size}
    sidecar.write_text(json.dumps(doc, indent=2) + "\n")
    return weights, sidecar


def read_meta(path):
    """The sidecar of a checkpoint as a dict, checked for the keys loading needs (no weights read)."""
    _, sidecar = checkpoint_paths(path)
    if not sidecar.is_file():
        raise FileNotFoundError(f"checkpoint: no sidecar {sidecar}")
    limits = Limits.from_env()
    limits.check("max_data_bytes", sidecar.stat().st_size, f"checkpoint {sidecar}: bytes in the sidecar")
    try:
        meta = json.loads(sidecar.read_text())
    except RecursionError:
        raise ValueError(f"checkpoint {sidecar}: its JSON is nested too deeply to be a sidecar") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"checkpoint {sidecar}: not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint {sidecar}: expected a JSON object, got {type(meta).__name__}")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise ValueError(f"checkpoint {sidecar}: missing {', '.join(map(repr, missing))}; "
                         f"expected the keys {', '.join(_REQUIRED)}")
    for key in ("model", "weights"):
        if not isinstance(meta[key], dict):
            raise ValueError(f"checkpoint {sidecar}: {key!r} must be a JSON object, got {type(meta[key]).__name__}")
    if meta["format"] != FORMAT or meta["version"] != VERSION:
        raise ValueError(f"checkpoint {sidecar}: format {meta['format']!r} version {meta['version']!r}; "
                         f"expected {FORMAT!r} version {VERSION}")
    return meta


def load_checkpoint(path):
    """(model, meta): the `TaskModel` in eval mode and the sidecar, after checking they agree."""
    weights, sidecar = checkpoint_paths(path)
    meta = read_meta(path)
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint: weights {weights} not found (named by {sidecar})")
    Limits.from_env().check("max_file_bytes", weights.stat().st_size, f"checkpoint {weights}: bytes in the file")
    digest = _sha256(weights)
    if digest != meta["weights"].get("sha256"):
        raise ValueError(f"checkpoint {weights}: SHA-256 {digest[:12]}... does not match the sidecar's "
                         f"{str(meta['weights'].get('sha256'))[:12]}...: the files come from different "
                         f"runs, or one is damaged")
    try:
        model = TaskModel(**meta["model"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint {sidecar}: cannot build the model {meta['model']}: {e}") from e
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"checkpoint {weights}: not a readable safetensors file ({e})") from e
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(f"checkpoint {weights}: tensors do not match the model {meta['model']}: "
                         f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    for name, want in expected.items():  # the model's order: the LSTM's first tensor is named first
        if state[name].shape != want.shape:
            raise ValueError(f"checkpoint {weights}: tensor {name!r} has shape {tuple(state[name].shape)}, "
                             f"the model {meta['model']} expects {tuple(want.shape)}")
    model.load_state_dict(state)
    return model.eval(), meta


def list_checkpoints(directory=MODELS_DIR):
    """The sidecars of every checkpoint in directory, sorted by name, each with its "path" stem added."""
    found = []
    for sidecar in sorted(Path(directory).glob("*.json")):
        meta = read_meta(sidecar)
        meta["path"] = str(sidecar.with_suffix(""))
        found.append(meta)
    return found


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
