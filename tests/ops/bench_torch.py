# bench_torch.py - the ViT-S 518x518 forward op sequence (random weights; per-op shapes also in
# `test_backend_ops --perf`)
# in PyTorch, written like the official model (q * scale before q k^T, nn.GELU, interpolate
# align_corners=True), for the speed comparison in docs/kernels.md. Not a ctest test.
#   OMP_WAIT_POLICY=passive /usr/bin/python3 tests/ops/bench_torch.py [threads] [reps]
# (Debian 12 python3-torch 1.13.1, CPU.)
import sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
g = torch.Generator().manual_seed(0)
def W(*s): return (torch.rand(*s, generator=g) - 0.5) * 0.05
L, N, D, H = 1370, 1369, 384, 518
blocks = [dict(qkv=W(3*D, D), qkvb=W(3*D), proj=W(D, D), projb=W(D), fc1=W(4*D, D), fc1b=W(4*D),
               fc2=W(D, 4*D), fc2b=W(D), g1=W(D), g2=W(D), ln=torch.ones(D), lnb=torch.zeros(D)) for _ in range(12)]
pw, pb, cls, pos = W(D, 3, 14, 14), W(D), W(1, 1, D), W(1, L, D)
oc = [48, 96, 192, 384]
proj = [W(o, D, 1, 1) for o in oc]; projb = [W(o) for o in oc]
ct0, ct1, r3 = W(48, 48, 4, 4), W(96, 96, 2, 2), W(384, 384, 3, 3)
rn = [W(64, o, 3, 3) for o in oc]
w3, w1, b64 = W(64, 64, 3, 3), W(64, 64, 1, 1), W(64)
oc1, oc2, oc3 = W(32, 64, 3, 3), W(32, 32, 3, 3), W(1, 32, 1, 1)
img = torch.rand(1, 3, H, H, generator=g)

def attn(x, b):
    qkv = F.linear(x, b['qkv'], b['qkvb']).reshape(1, L, 3, 6, 64).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * 0.125, qkv[1], qkv[2]
    a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    return (a @ v).transpose(1, 2).reshape(1, L, D)

def rcu(x, c):
    return F.conv2d(F.relu(F.conv2d(F.relu(x), w3, b64, padding=1)), w3, b64, padding=1) + x

def fusion(x, skip, size):
    if skip is not None: x = x + rcu(skip, 0)
    x = rcu(x, 0)
    x = F.interpolate(x, size=size, mode='bilinear', align_corners=True)
    return F.conv2d(x, w1, b64)

def forward():
    x = F.conv2d(img, pw, pb, stride=14).flatten(2).transpose(1, 2)
    x = torch.cat([cls, x], 1) + pos
    feats = []
    for i, b in enumerate(blocks):
        x = x + b['g1'] * F.linear(attn(F.layer_norm(x, (D,), b['ln'], b['lnb'], 1e-6), b), b['proj'], b['projb'])
        y = F.layer_norm(x, (D,), b['ln'], b['lnb'], 1e-6)
        x = x + b['g2'] * F.linear(F.gelu(F.linear(y, b['fc1'], b['fc1b'])), b['fc2'], b['fc2b'])
        if i % 3 == 2:
            feats.append(F.layer_norm(x, (D,), b['ln'], b['lnb'], 1e-6)[:, 1:].transpose(1, 2).reshape(1, D, 37, 37))
    rs = []
    for i in range(4):
        t = F.conv2d(feats[i], proj[i], projb[i])
        if i == 0: t = F.conv_transpose2d(t, ct0, stride=4)
        elif i == 1: t = F.conv_transpose2d(t, ct1, stride=2)
        elif i == 3: t = F.conv2d(t, r3, stride=2, padding=1)
        rs.append(F.conv2d(t, rn[i], padding=1))
    p = fusion(rs[3], None, (37, 37))
    p = fusion(p, rs[2], (74, 74))
    p = fusion(p, rs[1], (148, 148))
    p = fusion(p, rs[0], (296, 296))
    y = F.conv2d(p, oc1, padding=1)
    y = F.interpolate(y, size=(H, H), mode='bilinear', align_corners=True)
    y = F.relu(F.conv2d(F.relu(F.conv2d(y, oc2, padding=1)), oc3))
    return y

with torch.no_grad():
    forward()
    best, tot, c0 = 1e9, 0.0, time.process_time()
    for _ in range(reps):
        t = time.perf_counter(); forward(); t = time.perf_counter() - t
        best, tot = min(best, t), tot + t
    cpu = (time.process_time() - c0) / reps
print(f"torch {torch.__version__} threads {torch.get_num_threads()}: best {best*1e3:.0f} ms, mean {tot/reps*1e3:.0f} ms wall, cpu {cpu*1e3:.0f} ms/forward")
print(f"115.27 GFLOP -> {115.27/best:.1f} GFLOP/s wall (best), {115.27/cpu*torch.get_num_threads():.1f} GFLOP/cpu-s x threads")
