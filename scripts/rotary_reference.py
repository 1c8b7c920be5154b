# transformers' modeling_rope_utils formulas, op by op as torch evaluates them in float32:
# `a / t` is t.reciprocal() * a, and a Python scalar meeting a float32 tensor is cast to float32.
# The power is taken in float64 and rounded (correctly rounded; torch's Sleef pow is within 1 ulp).
import numpy as np, math
f32 = np.float32

def default(base, dim):
    e = np.arange(0, dim, 2, dtype=np.int64).astype(f32) / f32(dim)
    p = (np.float64(f32(base)) ** e.astype(np.float64)).astype(f32)
    return np.reciprocal(p) * f32(1.0)

def linear(base, dim, factor):
    return default(base, dim) / f32(factor)

def llama3(base, dim, factor, low, high, old):
    inv = default(base, dim)
    lw, hw = old / low, old / high
    wavelen = np.reciprocal(inv) * f32(2 * math.pi)
    inv_l = np.where(wavelen > f32(lw), inv / f32(factor), inv)
    smooth = (np.reciprocal(wavelen) * f32(old) - f32(low)) / f32(high - low)
    smoothed = (f32(1) - smooth) * inv_l / f32(factor) + smooth * inv_l
    medium = ~(wavelen < f32(hw)) & ~(wavelen > f32(lw))
    return np.where(medium, smoothed, inv_l).astype(f32)

def show(name, a):
    assert a.dtype == f32
    bits = a.view(np.uint32)
    print(f"// {name}: {len(a)} values")
    for i in range(0, len(bits), 8):
        print("    " + ", ".join(f"0x{b:08X}" for b in bits[i:i+8]) + ",")

show("default base 10000 dim 80", default(10000.0, 80))
show("linear base 10000 dim 64 factor 4", linear(10000.0, 64, 4.0))
show("llama3 base 500000 dim 128 factor 32 low 1 high 4 old 8192 (Llama 3.2)", llama3(500000.0, 128, 32.0, 1.0, 4.0, 8192))
t = llama3(500000.0, 128, 32.0, 1.0, 4.0, 8192); d = default(500000.0, 128)
print("// regions:", "kept", int(np.sum(t == d)), "divided", int(np.sum(t == d / f32(32))))
