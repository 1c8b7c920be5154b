#!/usr/bin/env python3
"""A roofline model of Slim's GPU kernels, on paper: predicted microseconds on
the GPUs of docs/roofline/gpus.json for the shapes of issue #18, from each
kernel's bytes and flops and from what the compiler says about it.

For every (kernel, build options) below it compiles the shipped source with
clang-15 (through scripts/gpu_kernel_costs.py) for amdgcn gfx90a and gfx940
and nvptx64 sm_80, and takes: registers, spills, local memory per group,
occupancy and the width of every global load. Then per GPU:

  resident items per CU   AMD: the allocator's waves per SIMD x 4 SIMDs x 64;
                          NVIDIA (no ptxas here): the same register count
                          (32-bit registers per lane on both) against 64 Ki
                          registers per SM, capped by local memory per group
  bytes in flight per CU  resident items x the bytes of global loads one item
                          issues (the sum of its load widths: an upper bound,
                          as if all its loads were in flight at once)
  memory efficiency       min(1, in flight / (bandwidth per CU x latency))
                          (Little's law: a CU must keep that much in flight)
  compute efficiency      min(1, issue(FMA) / issue(local loads)): a CU issues
                          fma_lanes FMA lanes and lds_bytes_per_clock of local
                          loads a clock, so a kernel with r local 4-byte loads
                          per FMA runs its FMAs at most at
                          (lds_bytes / 4) / (fma_lanes x r) of peak; and the
                          loads take issue slots: at most 1 / (1 + r)
  time                    max(bytes / (bandwidth x memory eff.),
                              flops / (peak x compute eff.)) + launch overhead

It is a model, not a simulator: caches, bank conflicts, barriers, tail
effects and instruction overheads other than local loads are left out, and
its assumptions are written in gpus.json. It is kept as data
(docs/roofline/predictions.json) so a lent GPU's measurement can be set
beside each line.

Usage: scripts/roofline_model.py [--json docs/roofline/predictions.json] [--markdown]
"""
import argparse
import importlib.util
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("costs", os.path.join(ROOT, "scripts", "gpu_kernel_costs.py"))
costs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(costs)

LAUNCH_US = 3.0  # a kernel launch and its tail, per kernel


def compiled(family, options):
    """{kernel: {gfx90a, gfx940, sm_80 stats}} for one build."""
    amd = {cpu: costs.amd_kernels(costs.compile_for(family, options, "amdgcn-unknown-amdhsa", cpu, f"{costs.CLC}/amdgcn--amdhsa.bc"))
           for cpu in costs.AMD_TARGETS}
    nv = costs.nv_kernels(costs.compile_for(family, options, "nvptx64-unknown-nvidiacl", costs.NV_TARGET, f"{costs.CLC}/nvptx64--nvidiacl.bc"))
    return amd, nv


def load_bytes(loads):
    return sum(int(w) * n for w, n in (loads or {}).items())


def resident_items(gpu, amd_stats, group_items):
    lds = amd_stats.get("lds_bytes") or 0
    groups_by_lds = gpu["local_memory_per_cu"] // lds if lds else 10**9
    if gpu["wave"] == 64:  # AMD: the allocator's own occupancy
        by_registers = (amd_stats.get("occupancy_waves") or 1) * 4 * 64
    else:  # NVIDIA: registers approximated by the VGPR count, allocated per warp in units of 8
        regs = max(8, math.ceil((amd_stats.get("vgprs") or 32) / 8) * 8)
        by_registers = (gpu["registers_per_cu"] // (regs * 32)) * 32
    return min(gpu["max_items_per_cu"], by_registers, groups_by_lds * group_items)


def predict(gpu, k, amd_stats, nv_stats):
    items = resident_items(gpu, amd_stats, k["group_items"])
    loads = nv_stats["loads"] if gpu["wave"] == 32 else amd_stats["loads"]
    in_flight = items * load_bytes(loads)
    bw = gpu["hbm_gbps"] * 1e9
    needed = bw / gpu["compute_units"] * gpu["memory_latency_ns"] * 1e-9
    mem_eff = min(1.0, in_flight / needed)
    peak = (gpu["int8_dot_gops"] if k["unit"] == "int8_dot" else gpu["fp32_gflops"]) * 1e9
    r = k.get("local_loads_per_fma", 0.0)
    # Two bounds from local loads: their bandwidth, and the issue slots they take from FMAs.
    alu_eff = min(1.0, (gpu["lds_bytes_per_clock_per_cu"] / 4) / (gpu["fma_lanes_per_cu"] * r), 1 / (1 + r)) if r else 1.0
    alu_eff *= k.get("alu_factor", 1.0)
    t_mem = k["bytes"] / (bw * mem_eff)
    t_alu = k["flops"] / (peak * alu_eff)
    t = max(t_mem, t_alu) + LAUNCH_US * 1e-6 * k.get("launches", 1)
    roof = max(k["bytes"] / bw, k["flops"] / peak)
    return {"resident_items_per_cu": items, "bytes_in_flight_per_cu": in_flight, "memory_efficiency": round(mem_eff, 3),
            "compute_efficiency": round(alu_eff, 3), "bound": "memory" if t_mem >= t_alu else "compute",
            "predicted_us": round(t * 1e6, 1), "roof_us": round(roof * 1e6, 1), "fraction_of_roof": round(roof / t, 3)}


def attention_ratio(d, lanes, rows_per_item, stream):
    """Local 4-byte loads per FMA of attention_forward_tiled, per item and key tile."""
    cols, feats = stream // lanes, -(-d // lanes)
    loads = d * (rows_per_item + cols) + stream * (rows_per_item + feats) + rows_per_item * (lanes + stream)
    fmas = d * rows_per_item * cols + stream * rows_per_item * feats
    return loads / fmas


def kernels():
    """The shapes of #18 with the kernels and options that run them (the shipped `gpu` row, and alternatives)."""
    ks = []
    for n in (4096, 14336):
        k = 4096
        for name, fmt, opts, wbytes in [
            ("int4-g128 GEMV", "int4-g128", "-D FMT=1 -D GROUP=128 -D SYM=1 -D W8A8=0 -D XBLOCK=0 -D TM=8 -D LS=64", n * k / 2 + n * k / 128 * 4),
            ("Q4_0 GEMV", "q4_0", "-D FMT=3 -D W8A8=0 -D XBLOCK=0 -D TM=8 -D LS=64", n * k / 32 * 18),
        ]:
            ks.append({"name": f"{name} 1x{k}x{n}", "family": "qgemm", "kernel": "qgemv", "options": opts, "group_items": 64,
                       "bytes": wbytes + 4 * k + 4 * n, "flops": 2 * k * n, "unit": "fp32",
                       "why": "decode: every weight byte read once; memory-bound if enough bytes are in flight"})
    m, n, k = 64, 4096, 4096
    ks.append({"name": f"W8A8 {m}x{k}x{n}", "family": "qgemm", "kernel": "qgemm_blocked",
               "options": "-D FMT=0 -D W8A8=1 -D XBLOCK=0 -D TM=8 -D LS=1", "group_items": 1,
               "bytes": n * k + 4 * n + m * k * 5 + 4 * m * n, "flops": 2 * m * n * k, "unit": "int8_dot",
               # No int8 dot product: each MAC is a convert and an fp32 FMA (2 issue slots against dp4a's 1/4).
               "alu_factor": 0.125,
               "why": "no int8 dot product in the kernel (each MAC an int→float convert and an FMA: 1/8 of dp4a's rate), work-groups of one item"})
    for label, ts, wpt, tsk in [("gpu row (TS 32, WPT 8: 4x2 per item)", 32, 8, 32), ("TS 64, WPT 64, TSK 16 (8x8 per item)", 64, 64, 16)]:
        wn = 8 if wpt >= 64 else 4 if wpt >= 16 else 2 if wpt >= 4 else 1
        wm = wpt // wn
        s = 4096
        ks.append({"name": f"fp32 GEMM {s}^3 Bᵀ, {label}", "family": "gemm", "kernel": "gemm_tiled",
                   "options": f"-D TRANS_A=0 -D TRANS_B=1 -D TS={ts} -D WPT={wpt} -D TSK={tsk}", "group_items": ts * ts // wpt,
                   "bytes": 3 * 4 * s * s, "flops": 2 * s ** 3, "unit": "fp32",
                   "local_loads_per_fma": (wm + wn) / (wm * wn),
                   "why": f"{wm}x{wn} outputs per item: {wm + wn} local loads per {wm * wn} FMAs; A and B re-reads hit L2 (bytes are the compulsory 3 matrices)"})
    L, d, heads = 4096, 128, 32
    for lanes in (16, 8):
        ks.append({"name": f"attention forward L={L} d={d} x{heads} heads, LANES {lanes}" + (" (shipped)" if lanes == 16 else ""),
                   "family": "attention_tiled", "kernel": "attention_forward_tiled",
                   "options": f"-D HEAD_DIM={d} -D LANES={lanes} -D OWN_ROWS=32 -D ROWS_PER_ITEM=4 -D STREAM_ROWS=32",
                   "group_items": lanes * 8, "bytes": 4 * 4 * L * heads * d, "flops": 4 * L * L * d * heads, "unit": "fp32",
                   "local_loads_per_fma": attention_ratio(d, lanes, 4, 32),
                   # One exp per score on the special-function units (16/clock/SM on H100 against 128 FMA lanes): 8 FMA slots per 2d FMAs.
                   "alu_factor": 1 / (1 + 8 / (2 * d)),
                   "why": "dense, non-causal; scores and P·V from local memory, one exp per score"})
    return ks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus", default=os.path.join(ROOT, "docs", "roofline", "gpus.json"))
    ap.add_argument("--json", help="write the predictions here")
    args = ap.parse_args()
    gpus = json.load(open(args.gpus))["gpus"]
    out = []
    for k in kernels():
        amd, nv = compiled(k["family"], k["options"])
        a90, a940, n80 = amd["gfx90a"].get(k["kernel"]) or {}, amd["gfx940"].get(k["kernel"]) or {}, nv.get(k["kernel"]) or {}
        entry = {key: k[key] for key in ("name", "family", "kernel", "options", "bytes", "flops", "unit", "why")}
        entry["local_loads_per_fma"] = round(k.get("local_loads_per_fma", 0), 3)
        entry["compiled"] = {"gfx90a": a90, "gfx940": a940, "sm_80": n80}
        entry["predictions"] = {"H100-SXM5": predict(gpus["H100-SXM5"], k, a90, n80),
                                "MI300X": predict(gpus["MI300X"], k, a940, n80)}
        out.append(entry)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"model": "scripts/roofline_model.py", "gpus": args.gpus, "kernels": out}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    print("| kernel | bytes | GFLOP | gfx90a VGPR / waves | sm_80 depot B | H100: bound, mem eff, alu eff | H100 µs (roof µs) | H100 % of roof | MI300X µs (roof µs) | MI300X % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for e in out:
        h, mi = e["predictions"]["H100-SXM5"], e["predictions"]["MI300X"]
        c = e["compiled"]["gfx90a"]
        print(f"| {e['name']} | {e['bytes'] / 1e6:.1f} MB | {e['flops'] / 1e9:.2f} | {c.get('vgprs')} / {c.get('occupancy_waves')}"
              f" | {e['compiled']['sm_80'].get('local_depot_bytes')} | {h['bound']}, {h['memory_efficiency']}, {h['compute_efficiency']}"
              f" | {h['predicted_us']} ({h['roof_us']}) | {100 * h['fraction_of_roof']:.0f} % | {mi['predicted_us']} ({mi['roof_us']}) | {100 * mi['fraction_of_roof']:.0f} % |")


if __name__ == "__main__":
    main()
