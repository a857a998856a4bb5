"""Depth Pro through the Python package (golden-depthpro/README.md tolerances: max 1e-4, rms 1e-5
of max|ref|): metric depth with the estimated focal length and with a given one, the focal
length used, for the official .pth and the Hugging Face folder alike."""
import json

import numpy as np
import pytest

import fathom
from conftest import GOLDEN

DP = GOLDEN.parent / "golden-depthpro" / "tiny"


def close(depth, ref):
    m = np.abs(ref).max()
    e = np.abs(depth.astype(np.float64) - ref)
    return e.max() <= 1e-4 * m and np.sqrt((e ** 2).mean()) <= 1e-5 * m


@pytest.fixture(scope="module")
def case():
    if not (DP / "case.json").is_file():
        pytest.skip(f"no Depth Pro golden case at {DP}")
    return {"img": fathom.load_image(str(DP / "input.png")),
            "f_given": json.loads((DP / "case.json").read_text())["runs"]["given"]["f_px"]}


@pytest.mark.parametrize("weights", ["model.pth", "hf"])
def test_depthpro_metric_depth_and_focal(case, weights):
    model = fathom.Model(str(DP / weights))
    info = model.info()
    assert info["family"] == "depth-pro" and info["focal"] and info["metric"]
    depth, f = model.infer(case["img"], with_focal=True)
    assert depth.dtype == np.float32 and depth.shape == case["img"].shape[:2]
    assert close(depth, np.load(DP / "depth.npy"))
    f_ref = float(np.load(DP / "focallength_px.npy").ravel()[0])
    assert abs(f - f_ref) <= 1e-4 * f_ref, (f, f_ref)
    np.testing.assert_array_equal(model.infer(case["img"]), depth)  # with_focal changes nothing
    given, f2 = model.infer(case["img"], focal_px=case["f_given"], with_focal=True)
    assert f2 == case["f_given"] and close(given, np.load(DP / "depth_fpx.npy"))
    batch = model.infer_batch([case["img"], case["img"][::-1]], batch_size=2)
    np.testing.assert_allclose(batch[0], depth, rtol=0, atol=1e-5 * np.abs(depth).max())
    with pytest.raises(ValueError):
        model.infer(case["img"], focal_px=-1)


def test_other_models_have_no_focal(tiny):
    model = tiny.model(fathom)
    assert model.info()["family"] == "depth-anything-v2" and not model.info()["focal"]
    depth, f = model.infer(fathom.load_image(str(tiny.path / "input.png")), input_size=70,
                           with_focal=True)
    assert f is None and depth.dtype == np.float32
