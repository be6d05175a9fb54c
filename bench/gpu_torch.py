"""PyTorch baselines for the GRPO batch on the GPU (bench/gpu.sh runs this after the CUDA bench).

Same inputs as native/cuda/test_bench.cu --bench: the ids it wrote (--ids), and the same hashed
table rebuilt here on the device (a 32-bit mixing hash of the flat index, every 97th row zero,
rows L2-normalised). Times the unfused `index_select -> matmul -> amax` path a user would write, per
pair and per prompt group, in fp32 and bf16, with CUDA events (median of --reps after warm-up), and
checks its fp32 scores against the CUDA kernel's (--scores).
"""
import argparse
import statistics
import sys

import numpy as np
import torch

V, D, PROMPTS, PER, M, N = 151936, 2048, 64, 8, 256, 128


def hashed_table(device):
    idx = torch.arange(V * D, dtype=torch.int64, device=device)
    mask = 0xFFFFFFFF
    h = idx & mask
    h = h ^ (h >> 16)
    h = (h * 0x7FEB352D) & mask
    h = h ^ (h >> 15)
    h = (h * 0x846CA68B) & mask  # wraps in int64; the low 32 bits are still exact
    h = h ^ (h >> 16)
    del idx
    t = h.to(torch.float32) * (1.0 / 4294967296.0) - 0.5
    del h
    t = t.view(V, D)
    t[::97] = 0
    norm = t.double().pow(2).sum(1).sqrt()
    t = (t.double() / torch.where(norm > 0, norm, torch.ones_like(norm))[:, None]).float()
    return t


def time_ms(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", required=True)
    ap.add_argument("--scores")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    dev = torch.device("cuda")
    raw = np.fromfile(args.ids, dtype=np.int32)
    resp = torch.from_numpy(raw[: PROMPTS * PER * M].astype(np.int64)).to(dev).view(PROMPTS * PER, M)
    ref = torch.from_numpy(raw[PROMPTS * PER * M :].astype(np.int64)).to(dev).view(PROMPTS, N)
    ref_pair = ref.repeat_interleave(PER, 0)  # (512, 128): each pair's reference ids
    t32 = hashed_table(dev)
    t16 = t32.to(torch.bfloat16)
    torch.backends.cuda.matmul.allow_tf32 = False

    def per_pair(t):
        r = t.index_select(0, resp.reshape(-1)).view(PROMPTS * PER, M, D)
        g = t.index_select(0, ref_pair.reshape(-1)).view(PROMPTS * PER, N, D)
        s = torch.bmm(r, g.transpose(1, 2))
        p = s.amax(2).float().mean(1)
        rc = s.amax(1).float().mean(1)
        return (p + rc) / 2

    def per_group(t):
        r = t.index_select(0, resp.reshape(-1)).view(PROMPTS, PER * M, D)
        g = t.index_select(0, ref.reshape(-1)).view(PROMPTS, N, D)
        s = torch.bmm(r, g.transpose(1, 2)).view(PROMPTS, PER, M, N)
        p = s.amax(3).float().mean(2)
        rc = s.amax(2).float().mean(2)
        return ((p + rc) / 2).reshape(-1)

    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0)}")
    results = {}
    for name, fn in [
        ("torch fp32 per pair (gather->bmm->amax)", lambda: per_pair(t32)),
        ("torch fp32 per prompt group", lambda: per_group(t32)),
        ("torch bf16 per pair (gather->bmm->amax)", lambda: per_pair(t16)),
        ("torch bf16 per prompt group", lambda: per_group(t16)),
    ]:
        med, mn = time_ms(fn, args.reps)
        results[name] = fn()
        print(f"RESULT {name:42s} median {med:.3f} ms (min {mn:.3f})")
    if args.scores:
        ours = torch.from_numpy(np.fromfile(args.scores, dtype=np.float32)[: PROMPTS * PER]).to(dev).double()
        want = per_pair(t32.double())
        print(f"CHECK max |cuda exact - torch fp64| = {(ours - want).abs().max().item():.3e}")
        print(f"CHECK max |torch bf16 per pair - torch fp64| = {(results['torch bf16 per pair (gather->bmm->amax)'].double() - want).abs().max().item():.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
