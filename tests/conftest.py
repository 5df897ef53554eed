"""Fixtures for every test; the shared helpers are in tests/helpers (`from helpers import ...`)."""
import os
import sys
from pathlib import Path

import pytest
import torch

# Some test modules reuse what a test module of another folder writes (the Keras files of
# io/test_load_keras.py, the app helpers of explorer/test_explorer_app.py): every folder is importable.
for _folder in sorted(p for p in Path(__file__).parent.iterdir() if p.is_dir() and p.name[0] not in "_."):
    if _folder.name != "helpers" and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one torch thread each, or their thread pools spin against
    # each other (torch's default of one thread a core, twice over)
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global random state."""
    torch.manual_seed(0)
