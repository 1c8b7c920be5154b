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
