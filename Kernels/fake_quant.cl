// Fake quantization for quantization-aware training (issue #9): the forward
// rounds each weight to its group's integer grid and back, the backward is the
// straight-through estimator with LSQ's scale gradient (FakeQuantGrid in
// SlimCore documents the definition). Weights are [rows, K] row-major and K is
// a whole number of groups, so group g holds the flat elements g*G .. g*G+G-1.
//
// -D G (values per group), -D LO, -D HI (the integer grid), -D LS (work-items
// per group in the backward, a power of two). The division w / s must be
// correctly rounded to reproduce the host's encoder bit for bit: the host
// adds -cl-fp32-correctly-rounded-divide-sqrt where the device supports it.

#include "reductions.cl"

// One weight: the clamped level minus the zero point, and whether round(v) + z
// lies inside the grid, unclamped (STE passes the gradient only there).
inline float fq_level(const float w, const float s, const float z, float *v, int *inside) {
    *v = w / s;
    const float q = round(*v) + z;
    *inside = q >= (float)LO && q <= (float)HI;
    // clamp() drops NaN (fmin/fmax): a NaN weight stays NaN, as on the host.
    return (isnan(q) ? q : clamp(q, (float)LO, (float)HI)) - z;
}

// out = s * (clamp(round(w / s) + z, LO, HI) - z), 0 where s = 0. One work-item per weight.
__kernel void fake_quantize(__global const float *w, __global const float *scales, __global const float *zeros,
                            __global float *out, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const int group = i / G;
    const float s = scales[group], z = zeros ? zeros[group] : 0.0f;
    if (s == 0.0f) { out[i] = 0.0f; return; }
    float v;
    int inside;
    out[i] = s * fq_level(w[i], s, z, &v, &inside);
}

// dw = dy where the weight is inside the grid (and wherever s = 0), else 0;
// ds[group] = sum over the group of dy * (round(v) - v) inside, dy * (level - z)
// outside. One work-group of LS work-items per group, reduced in local memory.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void fake_quantize_backward(__global const float *w, __global const float *scales, __global const float *zeros,
                            __global const float *dy, __global float *dw, __global float *ds) {
    __local float scratch[LS];
    const int group = get_group_id(0), lid = get_local_id(0);
    const float s = scales[group], z = zeros ? zeros[group] : 0.0f;
    const size_t base = (size_t)group * G;
    float sum = 0.0f;
    for (int j = lid; j < G; j += LS) {
        const float g = dy[base + j];
        if (s == 0.0f) { dw[base + j] = g; continue; }
        float v;
        int inside;
        const float level = fq_level(w[base + j], s, z, &v, &inside);
        dw[base + j] = inside ? g : 0.0f;
        sum += g * (inside ? round(v) - v : level);
    }
    sum = group_sum(sum, scratch);
    if (ds && lid == 0) ds[group] = sum;
}
