#!/usr/bin/env python3
"""Peers for `slim bench qgemm`: numpy fp32 and onnxruntime's quantized CPU
paths at the same shape, on the same machine, in the same run.

    scripts/peers/qgemm_peers.sh 1x4096x4096 64x4096x4096

Times Y = X @ W^T for:
  numpy fp32 matmul (OpenBLAS);
  onnxruntime MatMulNBits, 4-bit, block 32 and 128, accuracy_level 0 (fp32
    activations, Slim's weight-only accuracy class) and 4 (int8 activations);
  onnxruntime DynamicQuantizeLinear + MatMulInteger (dynamic int8, W8A8 class).
Median of 20 runs after 5 warm-up runs, two intra-op threads; prints JSON lines.
"""
import json, statistics, sys, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def timed(fn, warmup=5, runs=20):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def session(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def pack_int4(w, block):
    """MatMulNBits layout: W [N, K] in blocks of `block` along K, symmetric 4-bit, zero point 8."""
    n, k = w.shape
    blocks = w.reshape(n, k // block, block)
    scales = np.abs(blocks).max(axis=2) / 7
    q = np.clip(np.round(blocks / np.where(scales == 0, 1, scales)[..., None]), -8, 7).astype(np.int32) + 8
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return packed, scales.astype(np.float32)


def matmul_nbits(x, w, block, accuracy):
    n, k = w.shape
    packed, scales = pack_int4(w, block)
    node = helper.make_node("MatMulNBits", ["X", "W", "S"], ["Y"], domain="com.microsoft",
                            K=k, N=n, bits=4, block_size=block, accuracy_level=accuracy)
    graph = helper.make_graph([node], "nbits", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [x.shape[0], n])],
                              [numpy_helper.from_array(packed, "W"), numpy_helper.from_array(scales.reshape(-1), "S")])
    s = session(graph)
    return timed(lambda: s.run(None, {"X": x})), packed.nbytes + scales.nbytes


def dynamic_int8(x, w):
    n, k = w.shape
    scale = np.abs(w).max(axis=1) / 127
    qw = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8).T.copy()  # [K, N]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["X"], ["QX", "SX", "ZX"]),
        helper.make_node("MatMulInteger", ["QX", "QW", "ZX"], ["ACC"]),
        helper.make_node("Cast", ["ACC"], ["ACCF"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ACCF", "SX"], ["T"]),
        helper.make_node("Mul", ["T", "SW"], ["Y"]),
    ]
    graph = helper.make_graph(nodes, "dyn8", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [x.shape[0], n])],
                              [numpy_helper.from_array(qw, "QW"), numpy_helper.from_array(scale.astype(np.float32), "SW")])
    s = session(graph)
    return timed(lambda: s.run(None, {"X": x})), qw.nbytes + scale.nbytes * 4 // scale.itemsize


def main():
    print(json.dumps({"onnxruntime": ort.__version__, "numpy": np.__version__}))
    rng = np.random.default_rng(0)
    for text in sys.argv[1:] or ["1x4096x4096", "64x4096x4096"]:
        m, n, k = map(int, text.split("x"))
        x = rng.uniform(-1, 1, (m, k)).astype(np.float32)
        w = rng.uniform(-1, 1, (n, k)).astype(np.float32)
        wt = np.ascontiguousarray(w.T)
        y = np.empty((m, n), np.float32)
        rows = [("numpy_fp32", timed(lambda: np.matmul(x, wt, out=y)), w.nbytes)]
        for block in (32, 128):
            for accuracy in (0, 4):
                ms, nbytes = matmul_nbits(x, w, block, accuracy)
                rows.append((f"ort_matmulnbits_int4_b{block}_acc{accuracy}", ms, nbytes))
        ms, nbytes = dynamic_int8(x, w)
        rows.append(("ort_dynamic_int8", ms, nbytes))
        for name, ms, nbytes in rows:
            print(json.dumps({"peer": name, "shape": text, "median_ms": round(ms, 4),
                              "gflops": round(2 * m * n * k / ms / 1e6, 2), "weight_bytes": int(nbytes)}))


if __name__ == "__main__":
    main()
