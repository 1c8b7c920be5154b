#!/usr/bin/env python3
"""What Slim's OpenCL kernels cost on GPUs, read from the compiler without a GPU.

Runs `slim selftest --row ROW --quick` with SLIM_RECORD_KERNEL_LAUNCHES set, so
the list of (kernel, build options) is exactly what the shipped tuning row
launches, then compiles each source with Debian's clang-15 for
  - amdgcn gfx90a (MI200) and gfx940 (MI300's first ISA; clang-15 has no gfx942),
    linked with libclc's amdgcn built-ins: final ISA, so VGPR/SGPR counts,
    spills, scratch bytes, LDS and occupancy are the real allocator's;
  - nvptx64 sm_80, linked with libclc's nvptx built-ins: PTX only (register
    allocation happens later in ptxas, which Debian does not ship), so for
    NVIDIA the report gives the local-memory depot (private arrays the compiler
    could not keep in registers: spills in all but name) and load widths.
Attention sources are also compiled at HEAD_DIM 64 and 128, the head sizes of
large models, whatever the self-test used.

For every kernel it reports the widest global load and a histogram of load
widths, so "are the quantized weight loads 16 bytes wide" is answered by the
compiler, not by reading the source.

Usage: scripts/gpu_kernel_costs.py [--slim PATH] [--row gpu] [--json FILE]
Exit status 0; the report is the product (no pass/fail: see docs).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "Kernels")
CLC = "/usr/lib/clc"
AMD_TARGETS = ["gfx90a", "gfx940"]
NV_TARGET = "sm_80"
HEAD_DIMS = [64, 128]


def recorded_launches(slim, row):
    """{(family, options): [kernels]} a quick self-test of `row` launches, in launch order."""
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "launches.jsonl")
        env = dict(os.environ, SLIM_RECORD_KERNEL_LAUNCHES=record)
        run = subprocess.run([slim, "selftest", "--row", row, "--quick"], env=env, capture_output=True, text=True)
        if not os.path.exists(record):
            sys.exit(f"gpu_kernel_costs: `{slim} selftest --row {row} --quick` launched no kernel (exit {run.returncode}):\n{run.stderr}")
        builds = {}
        with open(record) as f:
            for line in f:
                e = json.loads(line)
                kernels = builds.setdefault((e["family"], e["options"]), [])
                if e["kernel"] not in kernels:
                    kernels.append(e["kernel"])
        return builds, run.returncode


def with_head_dims(builds):
    """Attention builds re-stated at the head sizes of large models (64 and 128)."""
    out = {}
    for (family, options), kernels in builds.items():
        variants = [options]
        if family.startswith("attention") and "HEAD_DIM" in options:
            variants = [re.sub(r"-D HEAD_DIM=\d+", f"-D HEAD_DIM={d}", options) for d in HEAD_DIMS]
        for v in variants:
            names = out.setdefault((family, v), [])
            names += [k for k in kernels if k not in names]
    return out


def compile_for(family, options, triple, cpu, builtins):
    source = os.path.join(KERNELS, family + ".cl")
    with tempfile.NamedTemporaryFile(suffix=".s", delete=False) as tmp:
        out = tmp.name
    cmd = ["clang-15", "-x", "cl", "-cl-std=CL1.2", "-target", triple, f"-mcpu={cpu}" if "amdgcn" in triple else f"-march={cpu}",
           "-O3", "-Xclang", "-finclude-default-header", "-Xclang", "-mlink-bitcode-file", "-Xclang", builtins,
           "-I", KERNELS, "-S", "-o", out, source] + options.split()
    if "amdgcn" in triple:
        cmd.insert(1, "-nogpulib")
    run = subprocess.run(cmd, capture_output=True, text=True)
    text = open(out).read() if run.returncode == 0 else None
    os.unlink(out)
    if text is None:
        raise RuntimeError(f"clang-15 failed on {family}.cl [{options}] for {cpu}:\n{run.stderr[-2000:]}")
    return text


AMD_LOAD = re.compile(r"^\s*(global|buffer|flat)_load_(ubyte|sbyte|ushort|sshort|dword(?:x(\d))?|short_d16\S*|ubyte_d16\S*)", re.M)


def amd_kernels(asm):
    """Per kernel: registers, spills, scratch, LDS, occupancy and global-load widths from the ISA and its metadata."""
    kernels = {}
    # Each kernel's text runs from its label to the next kernel's: the code, then
    # the allocator's summary comments ("; NumVgprs: …") after .Lfunc_end.
    starts = [m for m in re.finditer(r"^(\w+):\s*; @(\w+)$", asm, re.M) if m.group(1) == m.group(2)]
    for i, m in enumerate(starts):
        name = m.group(1)
        body = asm[m.start():starts[i + 1].start() if i + 1 < len(starts) else len(asm)]
        if not re.search(rf"\.amdhsa_kernel {re.escape(name)}\b", body):
            continue
        loads = Counter()
        for lm in AMD_LOAD.finditer(body):
            kind = lm.group(2)
            width = {"ubyte": 1, "sbyte": 1, "ushort": 2, "sshort": 2}.get(kind)
            if width is None:
                width = 4 * int(lm.group(3)) if lm.group(3) else (4 if kind == "dword" else 2)
            loads[width] += 1
        def stat(pattern):
            s = re.search(pattern, body)
            return int(s.group(1)) if s else None
        kernels[name] = {"vgprs": stat(r"; NumVgprs: (\d+)"), "sgprs": stat(r"; NumSgprs: (\d+)"),
                         "scratch_bytes": stat(r"; ScratchSize: (\d+)"), "occupancy_waves": stat(r"; Occupancy: (\d+)"),
                         "lds_bytes": stat(r"; LDSByteSize: (\d+)"), "loads": dict(sorted(loads.items()))}
    # Spill counts live in the metadata block, keyed by name.
    for block in re.split(r"\n\s+- \.", asm):
        nm = re.search(r"\.name:\s+(\w+)", block)
        if nm and nm.group(1) in kernels:
            for key in ("vgpr_spill_count", "sgpr_spill_count"):
                v = re.search(rf"\.{key}:\s+(\d+)", block)
                if v:
                    kernels[nm.group(1)][key.replace("_count", "s")] = int(v.group(1))
    return kernels


NV_LOAD = re.compile(r"\bld\.global(?:\.nc)?(?:\.v(\d))?\.(?:[usbf])(\d+)")


def nv_kernels(ptx):
    kernels = {}
    for m in re.finditer(r"\.entry (\w+)\((.*?)^\}", ptx, re.M | re.S):
        name, body = m.group(1), m.group(2)
        depot = re.search(r"\.local \.align \d+ \.b8 \t?__local_depot\d+\[(\d+)\]", body)
        loads = Counter()
        for lm in NV_LOAD.finditer(body):
            loads[int(lm.group(1) or 1) * int(lm.group(2)) // 8] += 1
        kernels[name] = {"local_depot_bytes": int(depot.group(1)) if depot else 0, "loads": dict(sorted(loads.items()))}
    return kernels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slim", default=os.path.join(ROOT, ".build", "release", "slim"))
    ap.add_argument("--row", default="gpu")
    ap.add_argument("--json", help="also write the full report here")
    args = ap.parse_args()
    if not os.path.exists(args.slim):
        sys.exit(f"gpu_kernel_costs: no slim binary at {args.slim} (swift build -c release --product slim, or --slim PATH)")
    builds, selftest_status = recorded_launches(args.slim, args.row)
    builds = with_head_dims(builds)
    report = []
    for (family, options), kernels in builds.items():
        targets = {cpu: amd_kernels(compile_for(family, options, "amdgcn-unknown-amdhsa", cpu, f"{CLC}/amdgcn--amdhsa.bc"))
                   for cpu in AMD_TARGETS}
        targets["sm_80"] = nv_kernels(compile_for(family, options, "nvptx64-unknown-nvidiacl", NV_TARGET, f"{CLC}/nvptx64--nvidiacl.bc"))
        for name in kernels:
            report.append({"source": family + ".cl", "kernel": name, "options": options,
                           "targets": {t: k.get(name) for t, k in targets.items()}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"row": args.row, "selftest_exit": selftest_status, "kernels": report}, f, indent=1)

    print(f"# GPU cost on paper: row '{args.row}', {len(report)} kernel builds launched by `slim selftest --row {args.row} --quick`"
          f" (exit {selftest_status}); attention also at HEAD_DIM {', '.join(map(str, HEAD_DIMS))}\n")
    print("| kernel | options | gfx90a VGPR | spills | scratch B | LDS B | waves/SIMD | gfx940 VGPR / scratch B | sm_80 local depot B | gfx90a loads by width | sm_80 loads by width |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for e in report:
        k, k2, nv = e["targets"]["gfx90a"] or {}, e["targets"]["gfx940"] or {}, e["targets"]["sm_80"] or {}
        spills = (k.get("vgpr_spills") or 0) + (k.get("sgpr_spills") or 0)
        widths = lambda loads: " ".join(f"{w}B×{n}" for w, n in (loads or {}).items())
        print(f"| {e['source']}:{e['kernel']} | {e['options']} | {k.get('vgprs')} | {spills} | {k.get('scratch_bytes')} | {k.get('lds_bytes')}"
              f" | {k.get('occupancy_waves')} | {k2.get('vgprs')} / {k2.get('scratch_bytes')} | {nv.get('local_depot_bytes')}"
              f" | {widths(k.get('loads'))} | {widths(nv.get('loads'))} |")


if __name__ == "__main__":
    main()
