// Training ops (issue #7): backward passes, row reductions, the loss rows and
// AdamW.
//
// Row kernels run one work-group of LS work-items per row (-D LS=..., a power
// of two) and reduce across the group in local memory; on CPU devices LS = 1
// and each row is one plain loop. Column sums (layer norm's dGamma and dBeta)
// use CW x CR work-groups (-D CW, -D CR): CW neighbouring features, so reads
// are coalesced, times CR row lanes reduced in local memory. Nothing here uses
// atomics: every output element has one owner, which adds in a fixed order,
// so results are deterministic.

#include "reductions.cl"

// dx = dy * (Phi(x) + x * phi(x)), the derivative of the exact GELU x * Phi(x).
__kernel void gelu_backward(__global const float *x, __global const float *dy, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = x[i];
    const float cdf = 0.5f * erfc(-v * 0.70710678118654752f);
    const float pdf = exp(-0.5f * v * v) * 0.39894228040143268f;
    dx[i] = dy[i] * (cdf + v * pdf);
}

// dx = y * (dy - sum(dy * y)) per row.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void softmax_backward_rows(__global const float *y, __global const float *dy, __global float *dx, const int width) {
    __local float scratch[LS];
    const int lid = get_local_id(0);
    const size_t base = (size_t)get_group_id(0) * width;
    y += base; dy += base; dx += base;
    float dot = 0.0f;
    for (int j = lid; j < width; j += LS) dot += y[j] * dy[j];
    dot = group_sum(dot, scratch);
    for (int j = lid; j < width; j += LS) dx[j] = y[j] * (dy[j] - dot);
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) per row, g = dy * gamma,
// xhat = (x - mean) * rstd from the forward pass's saved statistics.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void layernorm_backward_rows(__global const float *x, __global const float *gamma, __global const float *mean,
                             __global const float *rstd, __global const float *dy, __global float *dx, const int width) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    const size_t base = (size_t)row * width;
    x += base; dy += base; dx += base;
    const float mu = mean[row], rs = rstd[row];
    float sg = 0.0f, sgx = 0.0f;
    for (int j = lid; j < width; j += LS) {
        const float g = dy[j] * gamma[j];
        sg += g;
        sgx += g * (x[j] - mu) * rs;
    }
    const float mean_g = group_sum(sg, scratch) / width;
    const float mean_gx = group_sum(sgx, scratch) / width;
    for (int j = lid; j < width; j += LS) {
        // g rounded on its own statement, as in the sums above: contracting
        // dy * gamma - mean_g into an fma would leave its rounding error times
        // rstd (316 for a constant row at eps 1e-5) where the result is 0.
        const float g = dy[j] * gamma[j];
        const float xhat = (x[j] - mu) * rs;
        dx[j] = rs * ((g - mean_g) - xhat * mean_gx);
    }
}

// dgamma[f] = sum over rows of dy * xhat, dbeta[f] = sum over rows of dy
// (written, not accumulated). Work-group: CW features x CR row lanes; lane l
// sums rows l, l + CR, ... and the lanes are added in a fixed tree.
__kernel __attribute__((reqd_work_group_size(CW, CR, 1)))
void layernorm_backward_params(__global const float *x, __global const float *mean, __global const float *rstd,
                               __global const float *dy, __global float *dgamma, __global float *dbeta,
                               const int rows, const int width) {
    __local float sg[CR][CW], sb[CR][CW];
    const int f = get_global_id(0), c = get_local_id(0), lane = get_local_id(1);
    float g = 0.0f, b = 0.0f;
    if (f < width) {
        for (int r = lane; r < rows; r += CR) {
            const size_t i = (size_t)r * width + f;
            g += dy[i] * (x[i] - mean[r]) * rstd[r];
            b += dy[i];
        }
    }
    sg[lane][c] = g;
    sb[lane][c] = b;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = CR / 2; s > 0; s >>= 1) {
        if (lane < s) { sg[lane][c] += sg[lane + s][c]; sb[lane][c] += sb[lane + s][c]; }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && f < width) { dgamma[f] = sg[0][c]; dbeta[f] = sb[0][c]; }
}

// grad[ids[i]] += dy[i]. A work-item owns one feature of the table rows whose
// id is congruent to its bucket (global size width x buckets) and adds the
// matching dy rows in token order: no two work-items write one element, so
// no atomics and a fixed order. Ids outside 0..rows-1 are skipped.
__kernel void embedding_backward(__global const int *ids, __global const float *dy, __global float *grad,
                                 const int rows, const int width, const int count, const int buckets) {
    const int f = get_global_id(0), bucket = get_global_id(1);
    if (f >= width || bucket >= buckets) return;
    for (int i = 0; i < count; i++) {
        const int row = ids[i];
        if (row < 0 || row >= rows || row % buckets != bucket) continue;
        grad[(size_t)row * width + f] += dy[(size_t)i * width + f];
    }
}

#define REDUCE_SUM 0
#define REDUCE_MEAN 1
#define REDUCE_MAX 2
#define REDUCE_SUM_OF_SQUARES 3

// out[row] = sum, mean, max (NaN skipped, fmax) or sum of squares of the row.
// One reduction whose combining step depends on op, rather than a reduction
// per branch: barriers stay out of conditional code.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void reduce_rows(__global const float *x, __global float *out, const int width, const int op) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    const int is_max = op == REDUCE_MAX;
    x += (size_t)row * width;
    float acc = is_max ? -INFINITY : 0.0f;
    for (int j = lid; j < width; j += LS) {
        const float v = x[j];
        acc = is_max ? fmax(acc, v) : acc + (op == REDUCE_SUM_OF_SQUARES ? v * v : v);
    }
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LS / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] = is_max ? fmax(scratch[lid], scratch[lid + s]) : scratch[lid] + scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[row] = op == REDUCE_MEAN ? scratch[0] / width : scratch[0];
}

// One AdamW step in place: g = gscale * grad, p *= decay (1 - lr * wd),
// moments updated, p -= lr * m * c1 / (sqrt(v * c2) + eps) with the bias
// corrections c1 = 1 / (1 - beta1^t), c2 = 1 / (1 - beta2^t) from the host.
__kernel void adamw(__global float *p, __global const float *grad, __global float *m, __global float *v, const int n,
                    const float lr, const float beta1, const float beta2, const float one_minus_beta1,
                    const float one_minus_beta2, const float eps, const float decay, const float c1, const float c2,
                    const float gscale) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = grad[i] * gscale;
    const float mi = beta1 * m[i] + one_minus_beta1 * g;
    const float vi = beta2 * v[i] + one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - lr * (mi * c1) / (sqrt(vi * c2) + eps);
}

// log sum exp(x * inv_t) over a row.
inline float row_log_sum_exp(__global const float *x, const int width, const float inv_t, __local float *scratch) {
    const int lid = get_local_id(0);
    float peak = -INFINITY;
    for (int j = lid; j < width; j += LS) peak = fmax(peak, x[j] * inv_t);
    peak = group_max(peak, scratch);
    float sum = 0.0f;
    for (int j = lid; j < width; j += LS) sum += exp(x[j] * inv_t - peak);
    return peak + log(group_sum(sum, scratch));
}

// Per row of student logits z and teacher logits t at temperature T (inv_t = 1/T):
// p = softmax(z / T), q = softmax(t / T), loss = KL(q || p), grad = gscale * (p - q)
// (grad may be NULL: loss only).
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void softmax_kl_rows(__global const float *z, __global const float *t, const int width, const float inv_t,
                     __global float *loss, __global float *grad, const float gscale) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    const size_t base = (size_t)row * width;
    z += base;
    t += base;
    if (grad) grad += base;
    const float lse_s = row_log_sum_exp(z, width, inv_t, scratch);
    const float lse_t = row_log_sum_exp(t, width, inv_t, scratch);
    float kl = 0.0f;
    for (int j = lid; j < width; j += LS) {
        const float log_q = t[j] * inv_t - lse_t, log_p = z[j] * inv_t - lse_s, q = exp(log_q);
        kl += q * (log_q - log_p);
        if (grad) grad[j] = gscale * (exp(log_p) - q);
    }
    kl = group_sum(kl, scratch);
    if (lid == 0) loss[row] = kl;
}

// Per row of logits z with an i32 label: loss = -log p[label], grad = gscale *
// (p - onehot), p = softmax(z / T). A row whose label is ignore_index gets 0
// and 0; a label outside the row NaN and NaN (nothing outside the row is read).
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void softmax_cross_entropy_rows(__global const float *z, __global const int *labels, const int width,
                                const float inv_t, const int ignore_index, __global float *loss, __global float *grad,
                                const float gscale) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    const size_t base = (size_t)row * width;
    z += base;
    if (grad) grad += base;
    const float lse = row_log_sum_exp(z, width, inv_t, scratch);
    const int label = labels[row];
    const int ignored = label == ignore_index, valid = label >= 0 && label < width;
    if (grad) {
        for (int j = lid; j < width; j += LS) {
            grad[j] = ignored ? 0.0f : !valid ? NAN : gscale * (exp(z[j] * inv_t - lse) - (j == label ? 1.0f : 0.0f));
        }
    }
    if (lid == 0) loss[row] = ignored ? 0.0f : !valid ? NAN : lse - z[label] * inv_t;
}

// cos[row] = a.b / (max(|a|, floor) * max(|b|, floor)); when not NULL,
// ga = gscale * (b / (|a||b|) - cos * a / |a|^2) and gb likewise (the second
// term dropped where the norm was clamped).
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void cosine_rows(__global const float *a, __global const float *b, __global float *cosine,
                 __global float *ga, __global float *gb, const int width, const float norm_floor, const float gscale) {
    __local float scratch[LS];
    const int lid = get_local_id(0), row = get_group_id(0);
    const size_t base = (size_t)row * width;
    a += base; b += base;
    float dot = 0.0f, aa = 0.0f, bb = 0.0f;
    for (int j = lid; j < width; j += LS) { dot += a[j] * b[j]; aa += a[j] * a[j]; bb += b[j] * b[j]; }
    dot = group_sum(dot, scratch);
    aa = group_sum(aa, scratch);
    bb = group_sum(bb, scratch);
    const float na = sqrt(aa), nb = sqrt(bb);
    const float ca = fmax(na, norm_floor), cb = fmax(nb, norm_floor);
    const float cosv = dot / (ca * cb);
    const float kab = gscale / (ca * cb);
    const float kaa = na > norm_floor ? gscale * cosv / aa : 0.0f, kbb = nb > norm_floor ? gscale * cosv / bb : 0.0f;
    if (lid == 0) cosine[row] = cosv;
    if (ga) { ga += base; for (int j = lid; j < width; j += LS) ga[j] = kab * b[j] - kaa * a[j]; }
    if (gb) { gb += base; for (int j = lid; j < width; j += LS) gb[j] = kab * a[j] - kbb * b[j]; }
}
