"""depthpro_torch.py - the official Depth Pro side of bench/compare_depthpro.sh.

  make WEIGHTS          full-size random weights from the official class (seed 0), torch.save
  run WEIGHTS IMAGE N   N official infer() calls on IMAGE (fp32, CPU); prints seconds per image

Imports depth_pro from $DEPTH_PRO_SRC/src (a checkout of apple/ml-depth-pro; never copied here).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["DEPTH_PRO_SRC"], "src"))
import torch  # noqa: E402
import depth_pro  # noqa: E402
from depth_pro.depth_pro import DEFAULT_MONODEPTH_CONFIG_DICT, DepthProConfig  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
cmd, weights = sys.argv[1], sys.argv[2]
cfg = DEFAULT_MONODEPTH_CONFIG_DICT
if cmd == "make":
    torch.manual_seed(0)
    c = DepthProConfig(patch_encoder_preset=cfg.patch_encoder_preset, image_encoder_preset=cfg.image_encoder_preset,
                       decoder_features=cfg.decoder_features, checkpoint_uri=None, use_fov_head=True,
                       fov_encoder_preset=cfg.fov_encoder_preset)
    model, _ = depth_pro.create_model_and_transforms(c)
    sd = {k: v for k, v in model.state_dict().items() if "fc_norm" not in k}
    print("parameters", sum(v.numel() for v in sd.values()), "tensors", len(sd))
    torch.save(sd, weights)
else:
    image, n = sys.argv[3], int(sys.argv[4])
    c = DepthProConfig(patch_encoder_preset=cfg.patch_encoder_preset, image_encoder_preset=cfg.image_encoder_preset,
                       decoder_features=cfg.decoder_features, checkpoint_uri=weights, use_fov_head=True,
                       fov_encoder_preset=cfg.fov_encoder_preset)
    model, transform = depth_pro.create_model_and_transforms(c, device=torch.device("cpu"), precision=torch.float32)
    model.eval()
    rgb, _, f_px = depth_pro.load_rgb(image)
    times = []
    with torch.no_grad():
        for _ in range(n):
            t = time.perf_counter()
            out = model.infer(transform(rgb), f_px=f_px)
            times.append(time.perf_counter() - t)
    d = out["depth"].numpy()
    print("depth", d.shape, float(d.min()), float(d.max()), "focal", float(out["focallength_px"]))
    print("seconds_per_image %.3f" % min(times))
