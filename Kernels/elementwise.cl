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

// Gate activations, as slim_gated_activation numbers them.
#define GATE_SILU 0
#define GATE_GELU_TANH 1

// act(g) = g * sigmoid(z): z = g for SiLU; for the tanh-approximated GELU,
// 0.5 * (1 + tanh(u)) = sigmoid(2u) with u = sqrt(2/pi) * (g + 0.044715 g^3), so a
// large |g| saturates the sigmoid instead of overflowing tanh, and a negative g
// loses nothing to 1 + tanh(u) cancelling. NaN stays NaN.
inline float gate_activation(float g, int activation) {
    const float z = activation == GATE_GELU_TANH ? 1.5957691216057308f * (g + 0.044715f * g * g * g) : g;
    return g / (1.0f + exp(-z));
}

// out = act(gate) * up, a gated MLP's product (SwiGLU, Gemma's GELU-tanh).
__kernel void gated_activation(__global const float *gate, __global const float *up, __global float *out,
                               const int n, const int activation) {
    const int i = get_global_id(0);
    if (i < n) out[i] = gate_activation(gate[i], activation) * up[i];
}

// Rotary embedding in place on [tokens, heads, dim]: a work-item per (pair, head, token).
// The inverse frequencies come from the host (RotaryFrequencies: default, linear or llama3
// tables); the angle is their fp32 product with the position, as transformers computes it,
// and cos/sin are the accurate ones. halves = 0 pairs (2i, 2i+1), 1 pairs (i, i + pairs);
// features past 2 * pairs are left as they are.
__kernel void rope(__global float *x, __global const int *positions, __global const float *inv_freq,
                   const int heads, const int dim, const int pairs, const int halves, const int tokens) {
    const int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    if (i >= pairs || h >= heads || t >= tokens) return;
    const float angle = (float)positions[t] * inv_freq[i];
    const float c = cos(angle), s = sin(angle);
    __global float *v = x + ((size_t)t * heads + h) * dim;
    const int a = halves ? i : 2 * i, b = halves ? i + pairs : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}
