#!/usr/bin/python3
"""Write the fuzz seed corpora for tests/fuzz/fuzz_{safetensors,pth}.c (numpy + stdlib only).

A "micro" Depth Anything V2 (embed dim 8, 4 blocks, 2 heads, position grid 2x2, DPT features 4,
out_channels [2, 4, 4, 8], head hidden 4) in official and Hugging Face names, saved as
.safetensors (F32, F16, BF16) and as torch.save-style .pth archives (protocol-2 pickle written by
the standard pickler against stand-in torch globals, so the opcode stream matches torch.save's),
each well under 64 KiB. The fuzz targets pass out_indices [1, 2, 3, 4] and 2 heads, as a
config.json would.

    /usr/bin/python3 tests/tools/make_weights_seeds.py tests/fuzz/corpus
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

D, DEPTH, G, F, HID, O = 8, 4, 2, 4, 4, [2, 4, 4, 8]


def official_shapes():
    s = collections.OrderedDict()
    s["pretrained.cls_token"] = (1, 1, D)
    s["pretrained.pos_embed"] = (1, 1 + G * G, D)
    s["pretrained.mask_token"] = (1, D)
    s["pretrained.patch_embed.proj.weight"] = (D, 3, 14, 14)
    s["pretrained.patch_embed.proj.bias"] = (D,)
    for i in range(DEPTH):
        p = f"pretrained.blocks.{i}."
        s[p + "norm1.weight"] = (D,)
        s[p + "norm1.bias"] = (D,)
        s[p + "attn.qkv.weight"] = (3 * D, D)
        s[p + "attn.qkv.bias"] = (3 * D,)
        s[p + "attn.proj.weight"] = (D, D)
        s[p + "attn.proj.bias"] = (D,)
        s[p + "ls1.gamma"] = (D,)
        s[p + "norm2.weight"] = (D,)
        s[p + "norm2.bias"] = (D,)
        s[p + "mlp.fc1.weight"] = (4 * D, D)
        s[p + "mlp.fc1.bias"] = (4 * D,)
        s[p + "mlp.fc2.weight"] = (D, 4 * D)
        s[p + "mlp.fc2.bias"] = (D,)
        s[p + "ls2.gamma"] = (D,)
    s["pretrained.norm.weight"] = (D,)
    s["pretrained.norm.bias"] = (D,)
    for k in range(4):
        s[f"depth_head.projects.{k}.weight"] = (O[k], D, 1, 1)
        s[f"depth_head.projects.{k}.bias"] = (O[k],)
    for k, ks in ((0, 4), (1, 2), (3, 3)):
        s[f"depth_head.resize_layers.{k}.weight"] = (O[k], O[k], ks, ks)
        s[f"depth_head.resize_layers.{k}.bias"] = (O[k],)
    for k in range(4):
        s[f"depth_head.scratch.layer{k + 1}_rn.weight"] = (F, O[k], 3, 3)
    for k in range(1, 5):
        p = f"depth_head.scratch.refinenet{k}."
        s[p + "out_conv.weight"] = (F, F, 1, 1)
        s[p + "out_conv.bias"] = (F,)
        for u in (1, 2):
            for c in (1, 2):
                s[p + f"resConfUnit{u}.conv{c}.weight"] = (F, F, 3, 3)
                s[p + f"resConfUnit{u}.conv{c}.bias"] = (F,)
    s["depth_head.scratch.output_conv1.weight"] = (F // 2, F, 3, 3)
    s["depth_head.scratch.output_conv1.bias"] = (F // 2,)
    s["depth_head.scratch.output_conv2.0.weight"] = (HID, F // 2, 3, 3)
    s["depth_head.scratch.output_conv2.0.bias"] = (HID,)
    s["depth_head.scratch.output_conv2.2.weight"] = (1, HID, 1, 1)
    s["depth_head.scratch.output_conv2.2.bias"] = (1,)
    return s


def to_hf(tensors):
    """Official -> HF names (spec 7.3): q/k/v split, fusion index 4 - k."""
    out = collections.OrderedDict()
    for name, v in tensors.items():
        n = name
        if n.startswith("pretrained.blocks."):
            i, rest = n[len("pretrained.blocks."):].split(".", 1)
            p = f"backbone.encoder.layer.{i}."
            if rest.startswith("attn.qkv."):
                for part, t in zip(("query", "key", "value"), np.split(v, 3, axis=0)):
                    out[p + f"attention.attention.{part}.{rest.split('.')[-1]}"] = t
                continue
            rest = (rest.replace("attn.proj.", "attention.output.dense.")
                    .replace("ls1.gamma", "layer_scale1.lambda1").replace("ls2.gamma", "layer_scale2.lambda1"))
            n = p + rest
        elif n.startswith("pretrained."):
            n = {"pretrained.cls_token": "backbone.embeddings.cls_token",
                 "pretrained.mask_token": "backbone.embeddings.mask_token",
                 "pretrained.pos_embed": "backbone.embeddings.position_embeddings"}.get(n, n)
            n = n.replace("pretrained.patch_embed.proj.", "backbone.embeddings.patch_embeddings.projection.")
            n = n.replace("pretrained.norm.", "backbone.layernorm.")
        elif n.startswith("depth_head.projects."):
            k, rest = n[len("depth_head.projects."):].split(".", 1)
            n = f"neck.reassemble_stage.layers.{k}.projection.{rest}"
        elif n.startswith("depth_head.resize_layers."):
            k, rest = n[len("depth_head.resize_layers."):].split(".", 1)
            n = f"neck.reassemble_stage.layers.{k}.resize.{rest}"
        elif "_rn." in n:
            k = int(n.split("layer")[1][0])
            n = f"neck.convs.{k - 1}.weight"
        elif ".refinenet" in n:
            k = int(n.split("refinenet")[1][0])
            rest = n.split("refinenet")[1][2:]
            rest = rest.replace("out_conv.", "projection.")
            for u in (1, 2):
                for c in (1, 2):
                    rest = rest.replace(f"resConfUnit{u}.conv{c}.", f"residual_layer{u}.convolution{c}.")
            n = f"neck.fusion_stage.layers.{4 - k}.{rest}"
        else:
            n = (n.replace("depth_head.scratch.output_conv1.", "head.conv1.")
                 .replace("depth_head.scratch.output_conv2.0.", "head.conv2.")
                 .replace("depth_head.scratch.output_conv2.2.", "head.conv3."))
        out[n] = v
    return out


def bf16_bytes(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()


def raw(a, dtype):
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    return bf16_bytes(a)


def safetensors(tensors, dtype):
    header, chunks, size = {"__metadata__": {"format": "pt"}}, [], 0
    for name, v in tensors.items():
        b = raw(v, dtype)
        header[name] = {"dtype": dtype, "shape": list(v.shape), "data_offsets": [size, size + len(b)]}
        chunks.append(b)
        size += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return b"".join([struct.pack("<Q", len(h)), h] + chunks)


# ---- stand-in torch globals, so pickle writes exactly the GLOBAL opcodes torch.save writes
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
for cls in ("FloatStorage", "HalfStorage", "BFloat16Storage"):
    setattr(torch, cls, type(cls, (), {"__module__": "torch"}))
torch._utils = torch_utils
sys.modules.setdefault("torch", torch)
sys.modules.setdefault("torch._utils", torch_utils)


class Storage:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel


class Tensor:
    def __init__(self, storage, offset, shape):
        self.storage, self.offset, self.shape = storage, offset, tuple(shape)

    def __reduce_ex__(self, proto):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, tuple(stride), False,
                                     collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None


def pth(tensors, dtype, shared=False, wrap=False):
    stype = {"F32": torch.FloatStorage, "F16": torch.HalfStorage, "BF16": torch.BFloat16Storage}[dtype]
    sd, blobs = collections.OrderedDict(), {}
    if shared:
        total = sum(v.size for v in tensors.values())
        st, off, parts = Storage("0", stype, total), 0, []
        for name, v in tensors.items():
            sd[name] = Tensor(st, off, v.shape)
            off += v.size
            parts.append(raw(v, dtype))
        blobs["0"] = b"".join(parts)
    else:
        for i, (name, v) in enumerate(tensors.items()):
            sd[name] = Tensor(Storage(str(i), stype, v.size), 0, v.shape)
            blobs[str(i)] = raw(v, dtype)
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump({"model": sd, "epoch": 1} if wrap else sd)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("micro/data.pkl", buf.getvalue())
        for k, b in blobs.items():
            z.writestr(f"micro/data/{k}", b)
        z.writestr("micro/version", "3\n")
    return out.getvalue(), buf.getvalue()


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    rng = np.random.default_rng(7)
    off = collections.OrderedDict((n, rng.standard_normal(s).astype(np.float32)) for n, s in official_shapes().items())
    hf = to_hf(off)
    files = {
        "safetensors/micro_f32.safetensors": safetensors(off, "F32"),
        "safetensors/micro_hf_f16.safetensors": safetensors(hf, "F16"),
        "safetensors/micro_hf_bf16.safetensors": safetensors(hf, "BF16"),
    }
    files["pth/micro_f16.pth"], pkl = pth(off, "F16")
    files["pth/micro_bf16_shared_wrapped.pth"], pkl_wrapped = pth(off, "BF16", shared=True, wrap=True)
    files["pth/micro_f16.pkl"] = pkl
    files["pth/micro_wrapped.pkl"] = pkl_wrapped
    for rel, data in files.items():
        assert len(data) < 64 * 1024, (rel, len(data))
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(data)} bytes")


if __name__ == "__main__":
    main()
