"""fathom.Model takes model names as `fathom run -m` does (fathom_model_resolve): a name, an alias
or a Hugging Face repo id is found in a Hugging Face cache laid out as huggingface_hub writes it,
used in place, with no network; a path stays a path."""
import shutil

import numpy as np
import pytest

import fathom

REPO = "depth-anything/Depth-Anything-V2-Small-hf"


@pytest.fixture
def hf_cache(tiny, tmp_path, monkeypatch):
    """An HF hub cache holding the tiny golden weights as the Small-hf repo (refs/main ->
    snapshots/REV/), an empty fathom cache, and no way to download."""
    hub = tmp_path / "hub"
    repo = hub / ("models--" + REPO.replace("/", "--"))
    snap = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snap.mkdir(parents=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny.model_path / f, snap / f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snap.name)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # fathom's own cache: empty
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # were it asked: refused at once
    return snap


@pytest.mark.parametrize("name", ["small", "vits", REPO, "Depth-Anything-V2-Small-hf"])
def test_name_resolves_through_the_hf_cache(tiny, hf_cache, name):
    img = fathom.load_image(str(tiny.path / "input.png"))
    by_path = fathom.Model(str(tiny.model_path)).infer(img, input_size=tiny.input_size)
    model = fathom.Model(name, offline=True)
    assert model.info()["path"] == str(hf_cache)
    np.testing.assert_array_equal(model.infer(img, input_size=tiny.input_size), by_path)


def test_environment_alone_keeps_it_offline(tiny, hf_cache):
    """HF_HUB_OFFLINE=1 without offline=True: still found in the cache, never downloaded."""
    assert fathom.Model("small").info()["path"] == str(hf_cache)


def test_missing_offline_and_unknown_names_fail_with_the_reason(tiny, hf_cache):
    shutil.rmtree(hf_cache.parent.parent)  # the cache no longer holds the repo
    with pytest.raises(fathom.Error) as e:
        fathom.Model("small", offline=True)
    assert e.value.status_name == "NOT_FOUND" and "offline" in str(e.value).lower()
    with pytest.raises(fathom.Error) as e:
        fathom.Model("no-such-model-name", offline=True)
    assert e.value.status_name == "NOT_FOUND" and "no-such-model-name" in str(e.value)


def test_a_path_stays_a_path(tiny):
    assert fathom.Model(str(tiny.model_path)).info()["path"] == str(tiny.model_path)
