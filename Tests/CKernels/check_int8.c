// Activation rounding (int8 rows and runs, 22-bit digit planes) and the
// integer GEMMs on it (W8A8, int8 × 22-bit), against float64.
#include "check_support.h"

// q = round(x / scale) half away from zero with scale = max|x| / 127: the
// kernels multiply by 1/scale in fp32, so |q − x/scale| may exceed ½ by a few
// units of x/scale's last place (≤ 127·4u).
static int rounded_within(const float *x, const int8_t *q, int k, double scale, const char *what) {
    for (int i = 0; i < k; i++) {
        const double v = scale == 0 ? 0 : x[i] / scale;
        if (fabs(q[i] - v) > 0.5 + 127 * 4 * U32 || q[i] == -128)
            return check(0, what, "k=%d: q[%d] = %d for x/scale = %.9g\n", k, i, q[i], v);
    }
    return 1;
}

static void check_quantize_row_i8(void) {
    const int k = rnd_int(1, 300);
    float *x = malloc(sizeof(float) * k);
    int8_t *q = malloc(k + 8);
    fill_floats(x, k, -3, 3);
    const int shape = rnd_int(0, 3);
    if (shape == 0) memset(x, 0, sizeof(float) * k);  // an all-zero row: scale 0, q 0
    if (shape == 1) {  // scale exactly 1 and halves: every value a tie, which must round away from zero
        for (int i = 0; i < k; i++) x[i] = (float)rnd_int(-127, 126) + 0.5f;
        x[rnd_int(0, k - 1)] = rnd_int(0, 1) ? 127.0f : -127.0f;
    }
    memset(q, 0x5A, k + 8);
    slim_paths_take();
    const float scale = slim_quantize_row_i8(x, k, q, check_isa);
    check_paths(SLIM_PATHS_QUANTIZE_X, LEVELS(L1, L1), "slim_quantize_row_i8 dispatch");
    double peak = 0;
    for (int i = 0; i < k; i++) peak = fmax(peak, fabs(x[i]));
    int ok = check(near(scale, peak / 127, U32 * peak / 127), "slim_quantize_row_i8", "scale %.9g, want %.9g\n", scale, peak / 127);
    ok = ok && rounded_within(x, q, k, scale, "slim_quantize_row_i8");
    // Bit for bit the definition (QuantCodec.quantizeActivationRow): roundf(x·(1/scale)) in fp32.
    const float inv = scale == 0.0f ? 0.0f : 1.0f / scale;
    for (int i = 0; i < k && ok; i++)
        ok = check(q[i] == (int8_t)roundf(x[i] * inv), "slim_quantize_row_i8", "k=%d: q[%d] = %d, roundf(%.9g) = %g\n", k, i,
                   q[i], x[i] * inv, roundf(x[i] * inv));
    for (int i = k; i < k + 8 && ok; i++) ok = check(q[i] == 0x5A, "slim_quantize_row_i8", "q[%d] written past k=%d\n", i, k);
    if (ok) check(1, "slim_quantize_row_i8", " ");
    free(x), free(q);
}

static void check_quantize_runs_i8(int per_run) {
    const int runs = rnd_int(1, 9), k = 32 * runs;
    float *x = malloc(sizeof(float) * k), xd[9], xsum[9];
    int8_t *q = malloc(k);
    fill_floats(x, k, -3, 3);
    slim_quantize_runs_i8(x, k, per_run, q, xd, xsum, check_isa);
    double row_peak = 0;
    for (int i = 0; i < k; i++) row_peak = fmax(row_peak, fabs(x[i]));
    int ok = 1;
    for (int r = 0; r < runs && ok; r++) {
        double peak = row_peak, sum = 0;
        if (per_run) {
            peak = 0;
            for (int i = 0; i < 32; i++) peak = fmax(peak, fabs(x[r * 32 + i]));
        }
        // per run: the scale stored as fp16 (relative error 2^-11), q rounded with the exact one
        const double exact = peak / 127, stored_tol = per_run ? 0x1p-11 * exact : U32 * exact;
        ok = check(near(xd[r], exact, stored_tol), "slim_quantize_runs_i8", "run %d scale %.9g, want %.9g\n", r, xd[r], exact);
        ok = ok && rounded_within(x + r * 32, q + r * 32, 32, per_run ? exact : xd[r], "slim_quantize_runs_i8");
        for (int i = 0; i < 32; i++) sum += q[r * 32 + i];
        ok = ok && check(near(xsum[r], xd[r] * sum, U32 * fabs(xd[r] * sum)), "slim_quantize_runs_i8",
                         "run %d xsum %.9g, want %.9g\n", r, xsum[r], xd[r] * sum);
    }
    if (ok) check(1, "slim_quantize_runs_i8", " ");
    free(x), free(q);
}

static void check_gemm_w8a8(void) {
    const int m = rnd_int(1, 9), n = rnd_int(1, 37), k = rnd_int(1, 300);
    const long ldy = n + rnd_int(0, 5);
    int8_t *qx = malloc((size_t)m * k), *w = malloc((size_t)n * k);
    float *sx = malloc(sizeof(float) * m), *sw = malloc(sizeof(float) * n), *bias = malloc(sizeof(float) * n);
    float *y = malloc(sizeof(float) * ldy * m);
    fill_bytes((uint8_t *)qx, (long)m * k), fill_bytes((uint8_t *)w, (long)n * k);
    for (long i = 0; i < (long)m * k; i++) qx[i] = qx[i] == -128 ? 127 : qx[i];  // activations are symmetric
    fill_floats(sx, m, 0.001f, 0.03f), fill_floats(sw, n, 0.001f, 0.03f), fill_floats(bias, n, -1, 1);
    const int with_bias = rnd_int(0, 1);
    poison_floats(y, ldy * m);
    slim_paths_take();
    slim_gemm_w8a8(qx, sx, m, w, sw, n, k, with_bias ? bias : 0, y, ldy, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1 | L2, L1 | L2), "slim_gemm_w8a8 dispatch");
    int bad = 0;
    for (long i = 0; i < ldy * m && !bad; i++) {
        const long t = i / ldy, r = i % ldy;
        if (r >= n) {
            if (!is_poison_f(y[i])) bad = !check(0, "slim_gemm_w8a8", "y[%ld] written past n=%d\n", i, n);
            continue;
        }
        int64_t dot = 0;
        for (int j = 0; j < k; j++) dot += (int64_t)qx[t * k + j] * w[r * k + j];
        const double b = with_bias ? bias[r] : 0, want = (double)sx[t] * sw[r] * (double)dot + b;
        const double tol = 4 * U32 * (fabs((double)sx[t] * sw[r] * (double)dot) + fabs(b));  // 3 roundings
        if (!near(y[i], want, tol))
            bad = !check(0, "slim_gemm_w8a8", "m=%d n=%d k=%d y[%ld][%ld] = %.9g, want %.9g\n", m, n, k, t, r, y[i], want);
    }
    if (!bad) check(1, "slim_gemm_w8a8", " ");
    free(qx), free(w), free(sx), free(sw), free(bias), free(y);
}

// 22-bit planes: q = d2·2^14 + d1·2^7 + d0 = round(x/s), s = max|x|/(2^21 − 1).
static void check_i22(void) {
    const int k = rnd_int(1, 300), tokens = rnd_int(1, 5), n = rnd_int(1, 23), stride = slim_i22_stride(k);
    const int first = rnd_int(0, n - 1), count = rnd_int(1, n - first);
    const long os = n + rnd_int(0, 3);
    float *x = malloc(sizeof(float) * k * tokens), *scales = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * os * tokens);
    int8_t *planes = malloc(3L * stride * tokens), *w = malloc((size_t)n * k);
    int32_t *sums = malloc(sizeof(int32_t) * 3 * tokens);
    double *sx = malloc(sizeof(double) * tokens);
    fill_floats(x, (long)k * tokens, -2, 2), fill_bytes((uint8_t *)w, (long)n * k), fill_floats(scales, n, 0.001f, 0.02f);
    int ok = stride >= k && stride % 64 == 0;
    slim_paths_take();
    for (int t = 0; t < tokens && ok; t++) {
        memset(planes + 3L * stride * t, 0x5A, 3L * stride);
        sx[t] = slim_quantize_row_i22(x + t * k, k, planes + 3L * stride * t, sums + 3 * t, check_isa);
        double peak = 0;
        for (int i = 0; i < k; i++) peak = fmax(peak, fabs(x[t * k + i]));
        ok = check(fabs(sx[t] - peak / 2097151) <= 1e-15 * sx[t], "slim_quantize_row_i22", "s %.17g, want %.17g\n", sx[t], peak / 2097151);
        const int8_t *d = planes + 3L * stride * t;
        int64_t plane_sum[3] = {0, 0, 0};
        for (int i = 0; i < stride && ok; i++) {
            if (i >= k) {
                ok = check(!d[i] && !d[stride + i] && !d[2 * stride + i], "slim_quantize_row_i22", "padding at %d not zero\n", i);
                continue;
            }
            const int32_t q = d[2 * stride + i] * 16384 + d[stride + i] * 128 + d[i];
            plane_sum[0] += d[i], plane_sum[1] += d[stride + i], plane_sum[2] += d[2 * stride + i];
            ok = check(d[i] >= 0 && d[stride + i] >= 0 && fabs(x[t * k + i] - sx[t] * q) <= sx[t] * (0.5 + 1e-6),
                       "slim_quantize_row_i22", "k=%d x[%d] = %.9g as %d·%.9g\n", k, i, x[t * k + i], q, sx[t]);
        }
        for (int p = 0; p < 3 && ok; p++)
            ok = check(sums[3 * t + p] == plane_sum[p], "slim_quantize_row_i22", "plane %d sum %d, want %lld\n", p, sums[3 * t + p],
                       (long long)plane_sum[p]);
    }
    check_paths(SLIM_PATHS_QUANTIZE_X, LEVELS(L2, 0), "slim_quantize_row_i22 dispatch");
    if (ok) check(1, "slim_quantize_row_i22", " ");
    poison_floats(out, os * tokens);
    slim_rows_int8_i22(planes, sx, sums, tokens, k, w, scales, first, count, out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L2, 0), "slim_rows_int8_i22 dispatch");
    int bad = 0;
    for (long i = 0; i < os * tokens && !bad; i++) {
        const long t = i / os, r = i % os;
        if (r < first || r >= first + count) {
            if (!is_poison_f(out[i])) bad = !check(0, "slim_rows_int8_i22", "out[%ld] written outside the rows\n", i);
            continue;
        }
        double want = 0, wmag = 0;
        for (int j = 0; j < k; j++) want += (double)x[t * k + j] * w[r * k + j], wmag += abs(w[r * k + j]);
        want *= scales[r];
        // each x off by at most s/2, then the one final rounding
        const double tol = scales[r] * wmag * sx[t] * 0.5 + 2 * U32 * fabs(want);
        if (!near(out[i], want, tol))
            bad = !check(0, "slim_rows_int8_i22", "k=%d row %ld token %ld: %.9g, want %.9g\n", k, r, t, out[i], want);
    }
    if (!bad) check(1, "slim_rows_int8_i22", " ");
    free(x), free(scales), free(out), free(planes), free(w), free(sums), free(sx);
}

void check_int8(void) {
    for (int rep = 0; rep < 4; rep++) {
        check_quantize_row_i8();
        check_quantize_runs_i8(0);
        check_quantize_runs_i8(1);
        check_gemm_w8a8();
        check_i22();
    }
}
