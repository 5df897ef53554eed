"""Which devices this machine can run on, chosen at run time."""
import torch


def available_devices():
    """Names of the devices here, CPU first: e.g. ["cpu", "cuda:0", "mps"]."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def check_device(device):
    """`device` as a torch.device (None stays None), or a ValueError if it is not here."""
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device: expected a device name such as 'cpu' or 'cuda', got {device!r}") from e
    here = available_devices()
    if dev.type == "cpu":
        return dev
    name = dev.type if dev.index is None else f"{dev.type}:{dev.index}"
    if not any(h == name or h.split(":")[0] == name for h in here):
        raise ValueError(f"device: {name!r} is not available on this machine; available: {', '.join(here)}")
    return dev
