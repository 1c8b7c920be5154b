// Elementwise ops over n floats, one element per work-item.

#define OP_ADD 0
#define OP_MUL 1

inline float gelu_exact(float x) { return 0.5f * x * erfc(-x * 0.70710678118654752f); }

// out = a (op) b, where b repeats every nb elements of a (nb == n: same shape).
__kernel void binary_op(__global const float *a, __global const float *b, __global float *out,
                        const int n, const int nb, const int op) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float y = b[nb == n ? i : i % nb];
    out[i] = op == OP_ADD ? a[i] + y : a[i] * y;
}

__kernel void scale(__global const float *x, __global float *out, const int n, const float alpha) {
    const int i = get_global_id(0);
    if (i < n) out[i] = alpha * x[i];
}

__kernel void gelu(__global const float *x, __global float *out, const int n) {
    const int i = get_global_id(0);
    if (i < n) out[i] = gelu_exact(x[i]);
}

// out = silu(gate) * up, silu(g) = g / (1 + e^-g).
__kernel void swiglu(__global const float *gate, __global const float *up, __global float *out, const int n) {
    const int i = get_global_id(0);
    if (i < n) out[i] = gate[i] / (1.0f + exp(-gate[i])) * up[i];
}

// Rotary embedding in place on [tokens, heads, dim]: a work-item per (pair, head, token).
// theta[i] = base^(-2i/rotary_dim) comes from the host; halves = 0 pairs (2i, 2i+1), 1 pairs (i, i + rotary_dim/2).
__kernel void rope(__global float *x, __global const int *positions, __global const float *theta,
                   const int heads, const int dim, const int rotary_dim, const int halves, const int tokens) {
    const int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    const int pairs = rotary_dim / 2;
    if (i >= pairs || h >= heads || t >= tokens) return;
    const float angle = (float)positions[t] * theta[i];
    const float c = cos(angle), s = sin(angle);
    __global float *v = x + ((size_t)t * heads + h) * dim;
    const int a = halves ? i : 2 * i, b = halves ? i + pairs : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}
