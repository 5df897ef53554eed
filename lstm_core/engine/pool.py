"""Large CPU buffers handed out again once nothing holds them: fresh memory costs page faults.

A record holds 6·T·B·H numbers per layer and direction (78 MiB at T=200, B=32, H=256 and
two layers). Memory that large is mapped anew by every allocation and faults in page by
page when first written: on the 2-core development machine that costs about 0.5 ms per
MiB (a 50 MiB buffer: 29-44 ms to fault in and fill, 4-5 ms to fill again), which was a
quarter of nn.LSTM forward's time at (T, B, I, H, L) = (200, 32, 64, 256, 2)
(`benchmarks/trace_speed.py`, docs/kernel.md). nn.LSTM's own buffers are small enough
for malloc to reuse. The pool keeps the memory of records nobody holds any more and gives
it to the next call that asks for the same number of bytes.

How it knows that a buffer is free: each buffer is an anonymous `mmap` seen by torch
through `torch.frombuffer`, and every tensor storage made from it holds one reference to
the mmap object (the buffer export), whatever views, numpy arrays or storage objects the
caller made of it; when the pool's own reference is the only one, nothing can see the
memory. (torch's storage use count cannot tell: a storage object the caller keeps does
not show in it.) A self-test on first use checks exactly this, and turns the pool off if
it fails.

Memory: on a miss the pool drops its free buffers before it maps the new one, so a call
never needs more memory than without the pool; between calls it keeps at most
LSTM_CORE_POOL_MB MiB of buffers (default 256; 0 turns the pool off). Buffers under
MIN_BYTES and all CUDA/MPS memory come from torch's allocators as usual.

    empty(shape, dtype, device) -> an uninitialised tensor of that shape
"""
import math
import mmap
import os
import sys
import threading

import torch

ENV = "LSTM_CORE_POOL_MB"
DEFAULT_MB = 256
MIN_BYTES = 1 << 20  # below this malloc's heap serves a call without fresh pages


def budget_bytes():
    """LSTM_CORE_POOL_MB in bytes; ValueError for anything but a number >= 0."""
    raw = os.environ.get(ENV, "").strip() or str(DEFAULT_MB)
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not (math.isfinite(mb) and mb >= 0):
        raise ValueError(f"{ENV}: expected a number of MiB >= 0 (0 turns the record pool off), got {raw!r}")
    return int(mb * (1 << 20))


class _Buffer:
    """One mapping; `mm` is referenced only here and by the storages made from it."""

    __slots__ = ("mm",)

    def __init__(self, nbytes):
        # private, not mmap's default MAP_SHARED: shared anonymous memory lives in shmem, whose
        # pages fault in 1.5x slower and never come as huge pages
        # (No MADV_HUGEPAGE: it made a fresh process's first B=32 trace 40 ms slower, 398-475 ms
        # against 310-457, though recycled huge pages fault in 3x faster; measured here.)
        self.mm = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)

    @property
    def nbytes(self):
        return len(self.mm)

    def free(self):
        """True if no tensor storage holds this buffer (2: self.mm and getrefcount's argument)."""
        return sys.getrefcount(self.mm) == 2

    def tensor(self, shape, dtype, n):
        return torch.frombuffer(self.mm, dtype=dtype, count=n).view(shape)


class Pool:
    """Buffers of earlier records, most recently used first (see the module doc)."""

    def __init__(self):
        self._buffers = []
        self._lock = threading.Lock()  # app sessions trace from several threads at once
        self._works = None  # the self-test's verdict, once run

    def empty(self, shape, dtype, device):
        """An uninitialised tensor of `shape`, from the pool where it pays off."""
        n = math.prod(shape)
        nbytes = n * dtype.itemsize
        if nbytes < MIN_BYTES or torch.device(device).type != "cpu" or nbytes > budget_bytes() or not self.works():
            return torch.empty(shape, dtype=dtype, device=device)
        with self._lock:
            for k, buf in enumerate(self._buffers):
                if buf.nbytes == nbytes and buf.free():
                    self._buffers.insert(0, self._buffers.pop(k))
                    return buf.tensor(shape, dtype, n)
            self._buffers = [b for b in self._buffers if not b.free()]  # freed now, as without the pool
            budget = budget_bytes() - nbytes
            while self._buffers and sum(b.nbytes for b in self._buffers) > budget:
                self._buffers.pop()  # the oldest held one: forgotten, unmapped when its holder lets go
            buf = _Buffer(nbytes)
            self._buffers.insert(0, buf)
            return buf.tensor(shape, dtype, n)

    def held_bytes(self):
        """Bytes of the buffers the pool keeps: (free, in use by someone)."""
        with self._lock:
            free = sum(b.nbytes for b in self._buffers if b.free())
            return free, sum(b.nbytes for b in self._buffers) - free

    def clear(self):
        """Forget every buffer: free ones are unmapped now, held ones when their holder lets go."""
        with self._lock:
            self._buffers = []

    def works(self):
        """The self-test: a buffer reads as held exactly while a tensor, a view, a storage
        object or a numpy array of it is alive. Run once; False turns the pool off."""
        if self._works is None:
            self._works = _self_test()
        return self._works


def _self_test():
    try:
        buf = _Buffer(mmap.PAGESIZE)
        verdicts = [buf.free()]
        t = buf.tensor((2, -1), torch.float32, mmap.PAGESIZE // 4)
        v, s, a = t[1], t.untyped_storage(), t.numpy()
        verdicts.append(not buf.free())
        del t
        verdicts.append(not buf.free())
        del v, s
        verdicts.append(not buf.free())
        del a
        verdicts.append(buf.free())
        return all(verdicts)
    except (OSError, ValueError, TypeError, RuntimeError, AttributeError):  # AttributeError: no MAP_PRIVATE (Windows)
        return False


POOL = Pool()


def empty(shape, dtype, device):
    """`POOL.empty`: an uninitialised tensor, reusing a free record buffer of the same size."""
    return POOL.empty(tuple(shape), dtype, device)
