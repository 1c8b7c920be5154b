// Row-wise ops over the last dimension: one work-group of LS work-items per
// row (-D LS=..., a power of two). GPUs reduce across the group in local
// memory; on CPU devices LS = 1 and each row is one plain loop.

#include "reductions.cl"

// y = exp(x - max) / sum(exp(x - max)) per row.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void softmax_rows(__global const float *x, __global float *y, const int width) {
    __local float scratch[LS];
    const int lid = get_local_id(0);
    x += (size_t)get_group_id(0) * width;
    y += (size_t)get_group_id(0) * width;
    float peak = -INFINITY;
    for (int j = lid; j < width; j += LS) peak = fmax(peak, x[j]);
    peak = group_max(peak, scratch);
    float sum = 0.0f;
    for (int j = lid; j < width; j += LS) {
        const float e = exp(x[j] - peak);
        y[j] = e;
        sum += e;
    }
    const float inv = 1.0f / group_sum(sum, scratch);
    for (int j = lid; j < width; j += LS) y[j] *= inv;  // each work-item rescales what it wrote
}

// y = (x - mean) * rstd * gamma + beta per row, two-pass variance; saves
// mean and rstd per row when those pointers are not NULL.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void layernorm_rows(__global const float *x, __global const float *gamma, __global const float *beta,
                    __global float *y, const int width, const float eps,
                    __global float *mean_out, __global float *rstd_out) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    x += (size_t)row * width;
    y += (size_t)row * width;
    float sum = 0.0f;
    for (int j = lid; j < width; j += LS) sum += x[j];
    const float mean = group_sum(sum, scratch) / width;
    float sq = 0.0f;
    for (int j = lid; j < width; j += LS) { const float d = x[j] - mean; sq += d * d; }
    const float rstd = rsqrt(group_sum(sq, scratch) / width + eps);
    for (int j = lid; j < width; j += LS) y[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
    if (lid == 0 && mean_out) { mean_out[row] = mean; rstd_out[row] = rstd; }
}

// y = x / sqrt(mean(x²) + eps) * weight per row (Llama's RMSNorm).
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void rmsnorm_rows(__global const float *x, __global const float *weight, __global float *y,
                  const int width, const float eps) {
    __local float scratch[LS];
    const int lid = get_local_id(0);
    x += (size_t)get_group_id(0) * width;
    y += (size_t)get_group_id(0) * width;
    float sq = 0.0f;
    for (int j = lid; j < width; j += LS) sq += x[j] * x[j];
    const float scale = 1.0f / sqrt(group_sum(sq, scratch) / width + eps);
    for (int j = lid; j < width; j += LS) y[j] = x[j] * scale * weight[j];
}
