"""The Python package against the golden data, the CLI, and its own promises (errors as
exceptions with the library's message, the GIL released during inference, batches and frame
iterators equal to single calls)."""
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import fathom


def within_golden(depth, ref):
    """The golden README's tolerance for float32 engines: max 1e-4, rms 1e-5 of max|ref|."""
    m = np.abs(ref).max()
    e = np.abs(depth.astype(np.float64) - ref)
    return e.max() <= 1e-4 * m and np.sqrt((e ** 2).mean()) <= 1e-5 * m, e.max() / m


def test_golden_parity(case):
    model = case.model(fathom)
    img = fathom.load_image(str(case.path / "input.png"))
    ref = np.load(case.path / "depth.npy")
    assert img.dtype == np.uint8 and img.shape == ref.shape + (3,)
    depth = model.infer(img, input_size=case.input_size)
    assert depth.dtype == np.float32 and depth.shape == ref.shape
    ok, rel = within_golden(depth, ref)
    assert ok, f"{case.name}: max error {rel:.2e} of max|ref|"


def test_same_numbers_as_fathom_run(tiny, tmp_path):
    exe = os.environ.get("FATHOM_BIN")
    if not exe or not os.access(exe, os.X_OK):
        pytest.skip("FATHOM_BIN (the fathom CLI) not given")
    img_path = tiny.path / "input.png"
    subprocess.run([exe, "run", "--model", str(tiny.model_path), "-o", str(tmp_path), "-f", "npy",
                    "--input-size", str(tiny.input_size), str(img_path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = np.load(tmp_path / "input.npy")
    py = tiny.model(fathom).infer(fathom.load_image(str(img_path)), input_size=tiny.input_size)
    np.testing.assert_array_equal(py, cli)


def test_batch_and_frames_equal_single_calls(tiny):
    model = tiny.model(fathom)
    img = fathom.load_image(str(tiny.path / "input.png"))
    # mixed sizes and a strided (non-contiguous) view: grouped by network size internally
    images = [img, img[::2, ::2], np.ascontiguousarray(img[:, ::-1]), img, img[10:70, 5:125]]
    singles = [model.infer(x, input_size=140) for x in images]
    batch = model.infer_batch(images, input_size=140, batch_size=3)
    assert len(batch) == len(images)
    for s, b, x in zip(singles, batch, images):
        assert b.shape == x.shape[:2]
        np.testing.assert_allclose(b, s, rtol=0, atol=1e-5 * np.abs(s).max())

    pulled = []

    def frames():
        for i, x in enumerate(images):
            pulled.append(i)
            yield x

    it = model.infer_frames(frames(), input_size=140, batch_size=2)
    first = next(it)
    assert pulled == [0, 1], "infer_frames must read only one batch ahead"
    rest = list(it)
    assert len(rest) == len(images) - 1
    for s, b in zip(singles, [first] + rest):
        np.testing.assert_allclose(b, s, rtol=0, atol=1e-5 * np.abs(s).max())
    assert model.infer_batch([]) == []


def test_errors_are_exceptions_with_the_library_message(tiny, tmp_path):
    missing = tmp_path / "no-such-model.pth"
    with pytest.raises(fathom.Error) as e:
        fathom.Model(str(missing))
    assert "no-such-model.pth" in str(e.value) and e.value.status_name == "NOT_FOUND"
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(fathom.Error) as e:
        fathom.Model(str(bad))
    assert "garbage.safetensors" in str(e.value) and e.value.status_name == "FORMAT"
    with pytest.raises(fathom.Error) as e:
        fathom.load_image(str(tmp_path / "missing.png"))
    assert "missing.png" in str(e.value)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(fathom.Error):
        fathom.load_image(str(tmp_path / "broken.png"))

    model = tiny.model(fathom)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        model.infer(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"image 1: .*\(8, 8, 4\)"):
        model.infer_batch([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 4), np.uint8)])
    with pytest.raises(TypeError):
        model.infer(np.zeros((8, 8, 3), np.float64))
    with pytest.raises(ValueError, match="input_size"):
        model.infer(np.zeros((8, 8, 3), np.uint8), input_size=0)
    with pytest.raises(ValueError, match="device"):
        tiny.model(fathom, device="tpu")
    # the model still works after all that
    assert model.infer(np.zeros((8, 8, 3), np.uint8), input_size=14).shape == (8, 8)


def test_gil_released_during_inference(vits):
    model = vits.model(fathom, threads=1)
    img = fathom.load_image(str(vits.path / "input.png"))
    model.infer(img, input_size=vits.input_size)  # warm up: buffers reserved
    ticks = []
    inside = threading.Event()
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            if inside.is_set():
                ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        inside.set()
        t0 = time.perf_counter()
        model.infer(img, input_size=518)  # ViT-S at 518: far longer than a few ticks
        t1 = time.perf_counter()
        inside.clear()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if t0 < x < t1]
    # with the GIL held the ticker could not run at all between t0 and t1
    assert len(during) >= 5, f"{len(during)} ticks in {t1 - t0:.3f} s of inference"


def test_threads_share_a_model(tiny):
    model = tiny.model(fathom)
    img = fathom.load_image(str(tiny.path / "input.png"))
    ref = np.load(tiny.path / "depth.npy")
    out, errors = [None] * 4, []

    def work(i):
        try:
            out[i] = model.infer(img, input_size=tiny.input_size)
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for d in out:
        assert within_golden(d, ref)[0]


def test_info_and_version(vits):
    info = vits.model(fathom).info()
    assert info["arch"] == "vits" and info["format"] == "pth" and info["embed_dim"] == 384
    assert fathom.__version__ == fathom.version() and fathom.version().count(".") == 2


def make_video(path, frames=7, size="64x48"):
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "the ffmpeg CLI makes the test videos (scripts/install-deps.sh)"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}:rate=5", "-frames:v", str(frames), "-pix_fmt", "yuv420p",
                    str(path)], check=True)
    raw = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, stdout=subprocess.PIPE).stdout
    w, h = map(int, size.split("x"))
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def test_video_frames_and_depth(tiny, tmp_path):
    ref = make_video(tmp_path / "clip.mp4")
    frames = list(fathom.read_frames(str(tmp_path / "clip.mp4")))
    assert len(frames) == len(ref) == 7
    np.testing.assert_array_equal(np.stack(frames), ref)   # the same pixels as ffmpeg's rgb24
    assert len(list(fathom.read_frames(str(tmp_path / "clip.mp4"), max_frames=3))) == 3

    model = tiny.model(fathom)
    depths = list(model.infer_video(str(tmp_path / "clip.mp4"), input_size=70, batch_size=3))
    assert len(depths) == 7
    for f, d in zip(frames, depths):
        s = model.infer(f, input_size=70)
        np.testing.assert_allclose(d, s, rtol=0, atol=1e-5 * np.abs(s).max())

    with pytest.raises(fathom.Error) as e:
        fathom.read_frames(str(tmp_path / "missing.mp4"))
    assert "missing.mp4" in str(e.value) and e.value.status_name == "NOT_FOUND"
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(fathom.Error, match="text.mp4"):
        next(fathom.read_frames(str(tmp_path / "text.mp4")))
