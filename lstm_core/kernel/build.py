"""Building the compiled trace kernel once, and finding it again.

Decision (issue 15): a cached build, made only when asked for (`python -m lstm_core
build-kernel`, or `build()`), never at `pip install` and never silently on first use.
- An optional extension at install time would tie the binary to the torch present at
  install; upgrading torch later would break the import (an ABI error, not a fallback).
- A build on first use would stall a `trace` call, an app page or a test for 30-60 s
  unannounced (measured 31-64 s with g++ and ninja on 2 cores).
So `trace` only *loads* a kernel that is already in the cache, and falls back with one
log line saying how to build it when there is none.

The cache directory is keyed by everything the binary depends on: the kernel's source,
the torch version and its C++ ABI, the Python version, the compiler's version and the
CPU's instruction-set flags (the kernel is compiled with -march=native). A key that
changes means a fresh directory, so a stale binary is never loaded.

    LSTM_CORE_KERNEL_DIR   where the cache lives (default ~/.cache/lstm_core/kernel)

Loading a shared object runs its code, so a binary is loaded (and a build written) only
where no one else could have put it: every folder from the cache root down to the file,
and the file, must belong to this user (or root) and be writable by no other user. The key
is predictable, so without this a planted `/tmp/lstm_core_kernel/<key>/*.so` (CI's cache
is under TMPDIR) would run in every other user's process.
"""
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("trace_kernel.cpp")
NAME = "lstm_core_trace_kernel"
# -fopenmp: at::parallel_for is an OpenMP pragma in ATen's headers, so without it every
# parallel_for of the kernel ran on one thread (the GEMM's panels, a wide batch's rows).
# The libgomp it links is the one torch has already loaded (same soname).
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp"]
LDFLAGS = ["-fopenmp"]


class BuildError(RuntimeError):
    """The kernel could not be built here; the message says why and what to do."""


# What to do about a cache someone else could write: the one hint of every such message.
OWN_FOLDER = "set LSTM_CORE_KERNEL_DIR to a folder of your own"


class UntrustedKernel(ImportError):
    """A built kernel was found where someone else could have written it, and not loaded."""


def compiler():
    """The C++ compiler cpp_extension would use (CXX, else c++), or None if there is none."""
    cxx = os.environ.get("CXX", "c++")
    return shutil.which(cxx) or (shutil.which("g++") if cxx == "c++" else None)


def _compiler_version(cxx):
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=20)
        return out.stdout.splitlines()[0] if out.stdout else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_flags():
    """The CPU's instruction-set flags (Linux /proc/cpuinfo), or the machine name elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.machine()


def cache_key(cxx=None):
    """A short hash of everything the built binary depends on (see module doc)."""
    cxx = cxx or compiler() or "none"
    parts = [SOURCE.read_bytes().hex(), torch.__version__, str(torch.compiled_with_cxx11_abi()),
             sys.version.split()[0], sysconfig.get_config_var("SOABI") or "", _compiler_version(cxx),
             platform.machine(), cpu_flags(), " ".join(FLAGS), " ".join(LDFLAGS)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_root():
    root = os.environ.get("LSTM_CORE_KERNEL_DIR")
    return Path(root) if root else Path.home() / ".cache" / "lstm_core" / "kernel"


def cache_dir(key=None):
    return cache_root() / (key or cache_key())


def built_path(key=None):
    """The built extension in the cache, or None if it has not been built for this key."""
    d = cache_dir(key)
    hits = sorted(d.glob(NAME + "*.so")) if d.is_dir() else []
    return hits[0] if hits else None


def untrusted(path):
    """None if `path` and every folder from the cache root down to it belong to this user (or
    root) and are writable by no one else; else what is wrong, as a message."""
    root = cache_root()
    path = Path(path)
    try:
        inside = path.resolve().relative_to(root.resolve())
    except ValueError:
        return f"{path} is not inside the kernel cache {root}"
    uid = os.getuid() if hasattr(os, "getuid") else None
    chain = [root]  # the root, then each folder below it down to `path`
    for part in inside.parts:
        chain.append(chain[-1] / part)
    for p in chain:
        try:
            st = p.lstat()
        except OSError as e:
            return f"{p} cannot be read ({e.strerror})"
        if stat.S_ISLNK(st.st_mode):
            return f"{p} is a symbolic link: a kernel is loaded only from real folders"
        if uid is not None and st.st_uid not in (uid, 0):
            return f"{p} belongs to another user (uid {st.st_uid})"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return (f"{p} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}; "
                    f"`chmod go-w {p}` if it is yours alone)")
    return None


def make_dirs(d):
    """Create `d` and its missing parents writable by this user alone (0755), whatever the
    umask: a folder others could write would make `untrusted` refuse the kernel built in it."""
    missing = [q for q in (*reversed(Path(d).parents), Path(d)) if not q.exists()]
    Path(d).mkdir(parents=True, exist_ok=True)
    for q in missing:
        q.chmod(0o755)


def why_not_buildable():
    """None if a build can be tried here, else the reason it cannot."""
    if platform.system() != "Linux":
        return f"the kernel is built on Linux only (this is {platform.system()})"
    if compiler() is None:
        return "no C++ compiler (install g++, or set CXX)"
    if shutil.which("ninja") is None and importlib.util.find_spec("ninja") is None:
        return "ninja is missing (pip install ninja)"
    return None


def build(verbose=False):
    """Build the kernel into the cache (30-60 s) and return the path of the .so.

    Raises BuildError with the reason when it cannot be built.
    """
    reason = why_not_buildable()
    if reason:
        raise BuildError(reason)
    from torch.utils import cpp_extension

    key = cache_key()
    d = cache_dir(key)
    make_dirs(d)
    problem = untrusted(d)
    if problem:
        raise BuildError(f"{problem}; a kernel built there could be replaced by someone else: {OWN_FOLDER}")
    t0 = time.perf_counter()
    try:
        cpp_extension.load(name=NAME, sources=[str(SOURCE)], extra_cflags=FLAGS, extra_ldflags=LDFLAGS,
                           build_directory=str(d),
                           verbose=verbose, is_python_module=True)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        tail = str(e).strip().splitlines()[-1:] or [""]
        raise BuildError(f"the compiler failed ({tail[0][:300]}); rerun with --verbose to see why") from e
    path = built_path(key)
    if path is None:
        raise BuildError(f"the build finished but left no {NAME}*.so in {d}")
    path.chmod(path.stat().st_mode & ~0o022)  # ours: no one else may write it, whatever the umask
    (d / "built.txt").write_text(f"built in {time.perf_counter() - t0:.1f} s with {_compiler_version(compiler())}\n")
    return path


def load_built(path):
    """Import the extension at `path` (already built; nothing is compiled).

    Raises UntrustedKernel, without loading it, when the file or a folder above it in the cache
    could have been written by another user (`untrusted`)."""
    if NAME in sys.modules:
        return sys.modules[NAME]
    problem = untrusted(path)
    if problem:
        raise UntrustedKernel(f"a built kernel is there but not loaded: {problem}; {OWN_FOLDER} "
                              f"and run `python -m lstm_core build-kernel`")
    loader = importlib.machinery.ExtensionFileLoader(NAME, str(path))
    spec = importlib.util.spec_from_file_location(NAME, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[NAME] = module
    return module
