"""fathom: Depth Anything V2 depth maps from Python, over libfathom's public C API.

    import fathom
    model = fathom.Model("small", device="cpu")  # or a repo id, a .pth file, an HF folder
    depth = model.infer(rgb)                  # rgb: uint8 (H, W, 3) -> float32 (H, W)
    depths = model.infer_batch([rgb1, rgb2])  # list of float32 maps
    for depth in model.infer_frames(frames):  # any iterable of RGB frames, lazily
        ...
    for depth in model.infer_video("clip.mp4"):  # a video's frames (fathom.read_frames)
        ...

Depth maps are the image's size and hold the same numbers as ``fathom run -f npy``: relative
disparity (larger is nearer), or meters for metric models and Depth Pro (whose focal length,
estimated or given, ``model.infer(rgb, focal_px=0, with_focal=True)`` returns as well). Inference releases the GIL; one
Model runs one inference at a time (share it between threads, or make one per thread). Library
failures raise fathom.Error with the library's message.
"""
from itertools import islice

from ._fathom import Error, load_image, read_frames, version
from ._fathom import Model as _Model

__all__ = ["Model", "Error", "load_image", "read_frames", "version"]
__version__ = version()


class Model(_Model):
    """Model(path, device="cpu", threads=0, precision="default", *, metric=None, max_depth=0,
    offline=False)

    path: an official .pth checkpoint, a Hugging Face folder (config.json + model.safetensors),
    a .safetensors file, or a model name as ``fathom run -m`` takes it ("small", "vits",
    "metric-indoor-small", ... or a repo id such as "depth-anything/Depth-Anything-V2-Small-hf"):
    looked up in fathom's cache, then in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub),
    then downloaded ($HF_ENDPOINT: a mirror) unless offline or $HF_HUB_OFFLINE=1.
    ``info()["path"]`` says what it resolved to. device: "cpu", "cuda" or "cuda:N". threads:
    CPU threads (0: all cores). precision: "default", "fp32", "fp16" or "bf16" (GPU). metric /
    max_depth override config.json for metric heads.
    """

    def infer_frames(self, frames, input_size=518, batch_size=1):
        """Yield one float32 depth map per RGB frame of the iterable `frames`, in order,
        reading at most batch_size frames ahead (frames from a decoder are consumed lazily)."""
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: expected >= 1")
        it = iter(frames)
        while True:
            chunk = list(islice(it, batch_size))
            if not chunk:
                return
            yield from self.infer_batch(chunk, input_size=input_size, batch_size=batch_size)

    def infer_video(self, path, input_size=518, batch_size=1, max_frames=0):
        """Yield one float32 depth map per frame of the video at `path` (file or URL), decoded
        upright as fathom run decodes it; max_frames 0 = all. Per-frame depth, no temporal
        smoothing (fathom run's video normalization is for its 8/16-bit outputs)."""
        return self.infer_frames(read_frames(path, max_frames=max_frames),
                                 input_size=input_size, batch_size=batch_size)
