#!/usr/bin/env python3
"""Slim's data-parallel scaling model (issue 20): per-step compute and bytes, and the
predicted efficiency on 8 GPUs in one server and on 4 servers x 8 GPUs.

Every input is a named constant below, with where it comes from; docs/scaling.md
explains the formulas and quotes this script's output. Run: python3 scripts/scaling_model.py
"""

# --- What Slim exchanges (from the code) ---------------------------------------------
EXACT_BYTES = 24     # ExactSum: 3 int64 limbs per value (SlimParallel/ExactSum.swift)
FLOAT_BYTES = 4      # what a float32 all-reduce would send instead

# --- Models -------------------------------------------------------------------------
# 3-layer MiniLM student (hidden 384, ffn 1536, vocab 30522, 512 positions): every parameter
# has a gradient. Checked against `slim distill --json`'s allreduce_bytes_per_step / 24 - 2 (the loss and the token count ride along).
H, F, V = 384, 1536, 30522
layer = 4 * (H * H + H) + (H * F + F) + (F * H + H) + 2 * 2 * H
STUDENT_PARAMS = V * H + 512 * H + 2 * H + 2 * H + 3 * layer
# Teacher forward (6 layers) + student forward and backward (3 layers, backward = 2x forward),
# per token, with attention over a 128-token sequence.
def layer_flops_per_token(seq): return 2 * (4 * H * H + 2 * H * F) + 2 * 2 * seq * H
DISTILL_FLOPS_PER_TOKEN = (6 + 3 * 3) * layer_flops_per_token(128)

# 7B Llama decoder (Llama-2-7B: hidden 4096, ffn 11008, 32 blocks, no GQA).
D, FF, BLOCKS = 4096, 11008, 32
HESSIAN_ELEMENTS = 3 * D * D + FF * FF           # Q (K, V share it), O, gate (up shares it), down
# What is summed and exchanged: each symmetric Hessian's upper triangle (HessianCollector).
HESSIAN_TRIANGLES = 3 * D * (D + 1) // 2 + FF * (FF + 1) // 2
BLOCK_PARAMS = 4 * D * D + 3 * D * FF
CALIB_TOKENS = 128 * 2048                         # llm-compressor's usual 128 sequences of 2048
BLOCK_FWD_FLOPS = 2 * BLOCK_PARAMS * CALIB_TOKENS + 2 * 2 * 2048 * D * CALIB_TOKENS
XTX_FLOPS = 2 * CALIB_TOKENS * HESSIAN_ELEMENTS
# GPTQ on the host in double, per group of linears sharing a k-wide input (Sources/SlimCompress/LinearShares.swift,
# whose cost estimate this is): factoring the k x k Hessian (LAPACK Cholesky + triangular inverse, 2/3 k^3 FLOP)
# and each member's column sweep (2 rows k^2 FLOP). Over ranks each group is quantized by one rank.
def group_flops(k, rows): return 2 * k ** 3 / 3 + 2 * rows * k * k
GROUP_COSTS = {"Q,K,V": group_flops(D, 3 * D), "O": group_flops(D, D), "gate,up": group_flops(D, 2 * FF), "down": group_flops(FF, D)}
GPTQ_FLOPS = sum(GROUP_COSTS.values())
PACKED_BYTES_PER_WEIGHT = 0.5 + 5 / 32   # int4-g32: a nibble per weight, an fp32 scale and a zero byte per 32


def largest_share(ranks):
    """The share of a block's GPTQ work on its busiest rank: groups largest first, each to the least loaded rank."""
    load = [0.0] * ranks
    for cost in sorted(GROUP_COSTS.values(), reverse=True):
        load[load.index(min(load))] += cost
    return max(load) / sum(GROUP_COSTS.values())

# --- Hardware (assumptions, stated in docs/scaling.md) --------------------------------
GPU_FLOPS = 20e12        # fp32 GEMM a GPU sustains through Slim's OpenCL kernels (~1/3 of an H100's 60 TFLOP/s)
HOST_DOUBLE_FLOPS = 50e9 # GPTQ's double loop on the host, per rank
EXACT_ADD_S = 3e-9       # host exact add per element (measured 22 ns on this loaded 2-core machine; ~3 ns quiet, see docs)
HOST_SHM = 10e9          # bytes/s one process moves through shared memory in an intra-node MPI all-reduce
LINKS = {                # effective one-direction bandwidth, bytes/s (~70% of nominal)
    "PCIe 4 x16": 22e9, "PCIe 5 x16": 45e9, "NVLink 4 (H100 SXM)": 315e9,
}
NETS = {"100 Gb/s": 12.5e9 * 0.9, "400 Gb/s": 50e9 * 0.9}


def ring(bytes_, ranks, bandwidth):
    """A ring (or reduce-scatter + all-gather) all-reduce: each rank sends and receives 2(N-1)/N of the message."""
    return 2 * (ranks - 1) / ranks * bytes_ / bandwidth if ranks > 1 else 0.0


def allreduce(bytes_, gpus, servers, link, net):
    """Slim today: device -> host over PCIe, MPI through host memory within a server, then across servers.
    Hierarchical: inside a server a reduce-scatter/all-gather over shared memory; across servers each
    server's NIC carries 2(S-1)/S of the whole message."""
    t = ring(bytes_, gpus, HOST_SHM)
    if servers > 1: t += ring(bytes_, servers, NETS[net])
    return t


def table():
    rows = []
    # Distillation: weak scaling, per-GPU batch fixed.
    for per_gpu_batch in (16, 128):
        compute = DISTILL_FLOPS_PER_TOKEN * per_gpu_batch * 128 / GPU_FLOPS
        for bpv, label in ((EXACT_BYTES, "exact (today)"), (FLOAT_BYTES, "float32")):
            message = STUDENT_PARAMS * bpv
            d2h = STUDENT_PARAMS * 4 / LINKS["PCIe 4 x16"] * 2          # gradients down, summed ones up
            for gpus, servers, net in ((8, 1, None), (8, 4, "100 Gb/s"), (8, 4, "400 Gb/s")):
                comm = d2h + allreduce(message, gpus, servers, None, net)
                rows.append(("distill 3-layer MiniLM", f"batch {per_gpu_batch}x128/GPU, {label}", f"{servers}x{gpus}" + (f" {net}" if net else ""),
                             compute, comm, compute / (compute + comm)))
        # Not Slim today: a float32 all-reduce between GPUs directly (NCCL-class), no host copy.
        for link in LINKS:
            for servers, net in ((1, None), (4, "100 Gb/s"), (4, "400 Gb/s")):
                message = STUDENT_PARAMS * FLOAT_BYTES
                comm = ring(message, 8, LINKS[link]) + (ring(message, servers, NETS[net]) if servers > 1 else 0)
                rows.append(("distill 3-layer MiniLM", f"batch {per_gpu_batch}x128/GPU, GPU-direct", f"{servers}x8 {link}" + (f" {net}" if net else ""),
                             compute, comm, compute / (compute + comm)))
    # 7B GPTQ: strong scaling of one block's calibration (fixed 128 sequences).
    for bpv, label in ((EXACT_BYTES, "exact (today)"), (8, "float64 sum")):
        for gpus, servers, net in ((1, 1, None), (8, 1, None), (8, 4, "100 Gb/s"), (8, 4, "400 Gb/s")):
            n = gpus * servers
            parallel = (2 * BLOCK_FWD_FLOPS + XTX_FLOPS) / GPU_FLOPS + CALIB_TOKENS / 2048 * (HESSIAN_ELEMENTS * 4 / LINKS["PCIe 4 x16"] + HESSIAN_TRIANGLES * EXACT_ADD_S)
            serial = GPTQ_FLOPS / HOST_DOUBLE_FLOPS
            comm = allreduce(HESSIAN_TRIANGLES * bpv, gpus, servers, None, net) if n > 1 else 0
            t1 = parallel + serial
            tn = parallel / n + serial + comm
            rows.append(("GPTQ 7B, one block", label + ", every rank all linears", f"{servers}x{gpus}" + (f" {net}" if net else ""), tn, comm, t1 / (n * tn)))
            # Slim today: the groups of linears split across ranks, the packed linears gathered by every rank.
            split = parallel / n + serial * largest_share(n) + comm + (BLOCK_PARAMS * PACKED_BYTES_PER_WEIGHT / HOST_SHM if n > 1 else 0)
            rows.append(("GPTQ 7B, one block", label + ", linears split", f"{servers}x{gpus}" + (f" {net}" if net else ""), split, comm, t1 / (n * split)))
    return rows


if __name__ == "__main__":
    print(f"3-layer MiniLM student: {STUDENT_PARAMS:,} parameters; exact all-reduce {STUDENT_PARAMS * EXACT_BYTES / 1e6:.0f} MB/step, float32 {STUDENT_PARAMS * 4 / 1e6:.0f} MB")
    print(f"distillation compute: {DISTILL_FLOPS_PER_TOKEN / 1e6:.1f} MFLOP/token")
    print(f"7B block: Hessians {HESSIAN_ELEMENTS:,} elements = {HESSIAN_ELEMENTS * 8 / 1e9:.2f} GB float64; upper triangles {HESSIAN_TRIANGLES:,} "
          f"= {HESSIAN_TRIANGLES * 24 / 1e9:.2f} GB exact limbs ({BLOCKS} blocks: {BLOCKS * HESSIAN_TRIANGLES * 24 / 1e9:.0f} GB); forward x2 {2 * BLOCK_FWD_FLOPS / 1e12:.0f} TFLOP, XtX {XTX_FLOPS / 1e12:.0f} TFLOP, "
          f"GPTQ {GPTQ_FLOPS / 1e12:.2f} TFLOP (host, double)")
    print(f"{'job':24} {'variant':32} {'servers x GPUs':20} {'time/step or block (s)':>22} {'exchange (s)':>12} {'efficiency':>10}")
    for job, variant, shape, t, comm, eff in table():
        print(f"{job:24} {variant:32} {shape:20} {t:22.4f} {comm:12.4f} {eff:10.0%}")
