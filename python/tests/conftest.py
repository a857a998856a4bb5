import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
GOLDEN = Path(os.environ.get("FATHOM_GOLDEN", HERE.parents[2] / "shared" / "golden"))


def golden_cases():
    """Every case under FATHOM_GOLDEN (a folder with case.json and depth.npy)."""
    if not GOLDEN.is_dir():
        return []
    return sorted(p for p in GOLDEN.iterdir() if (p / "case.json").is_file() and (p / "depth.npy").is_file())


class Case:
    def __init__(self, path):
        self.path = path
        self.name = path.name
        self.meta = json.loads((path / "case.json").read_text())
        self.input_size = int(self.meta["input_size"])
        pth = path / "model.pth"
        self.model_path = pth if pth.is_file() else path / "model"
        self.kwargs = {}
        if pth.is_file() and self.meta.get("metric"):  # .pth files do not say they are metric
            self.kwargs = {"metric": True, "max_depth": float(self.meta.get("max_depth") or 20)}

    def model(self, fathom, **kw):
        return fathom.Model(str(self.model_path), **self.kwargs, **kw)


@pytest.fixture(params=golden_cases(), ids=lambda p: p.name)
def case(request):
    return Case(request.param)


@pytest.fixture(scope="session")
def tiny():
    p = GOLDEN / "tiny-hf"
    if not (p / "case.json").is_file():
        pytest.skip(f"no golden case at {p}")
    return Case(p)


@pytest.fixture(scope="session")
def vits():
    p = GOLDEN / "vits-pth"
    if not (p / "case.json").is_file():
        pytest.skip(f"no golden case at {p}")
    return Case(p)
