// The quantized-GEMM row kernels and their drivers (cpu_kernels.h) against
// the float64 product of the dequantized weights. Tolerances are the
// worst-case bound of fp32 summation in any order, γ_n·Σ|terms| with n the
// number of roundings on the way (a wrong weight, run or token is off by
// about Σ|terms|/k, thousands of times more).
#include "check_support.h"

static const int U4_KINDS[] = {SLIM_U4_INT4_SYM, SLIM_U4_INT4_ASYM, SLIM_U4_Q4_0, SLIM_U4_Q4_1};

// One weight matrix of n rows in any kind, with int4 side arrays.
typedef struct {
    int kind, k, n, groups, group_shift;
    long rb;
    uint8_t *data, *zeros;
    float *scales;  // int4 group scales (groups per row) or int8 row scales
} weights;

static weights make_weights(int kind, int k, int n) {
    weights w = {kind, k, n, 0, 0, row_bytes_of(kind, k), 0, 0, 0};
    const int runs = k / 32;
    if (kind == SLIM_U4_INT4_SYM || kind == SLIM_U4_INT4_ASYM) {
        w.group_shift = rnd_int(0, 2);
        w.groups = ((runs - 1) >> w.group_shift) + 1;
    }
    w.data = malloc((size_t)w.rb * n + 64);
    w.scales = malloc(sizeof(float) * (size_t)(w.groups ? w.groups : 1) * n);
    w.zeros = malloc((size_t)(w.groups ? w.groups : 1) * n);
    for (int r = 0; r < n; r++) {
        random_row(kind, w.data + r * w.rb, k, w.groups ? w.scales + r * w.groups : 0,
                   kind == SLIM_U4_INT4_ASYM ? w.zeros + r * w.groups : 0, w.groups);
        if (kind == SLIM_ROW_INT8) w.scales[r] = rnd_float(0.001f, 0.02f);
    }
    return w;
}
static void free_weights(weights *w) { free(w->data), free(w->scales), free(w->zeros); }
static double weight_at(const weights *w, int r, int i) {
    return ref_weight(w->kind, w->data + r * w->rb, i, w->group_shift, w->kind == SLIM_ROW_INT8 ? w->scales[r] : 0,
                      w->groups ? w->scales + r * w->groups : 0, w->kind == SLIM_U4_INT4_ASYM ? w->zeros + r * w->groups : 0);
}

// |a·level| + |b| of weight i: the size of the terms a kernel adds for it
// (a·x·u and b·x with the run sums), whatever their order.
static double term_at(const weights *w, int r, int i) {
    double a, b;
    ref_ab(w->kind, w->data + r * w->rb, i / 32, w->group_shift, w->kind == SLIM_ROW_INT8 ? w->scales[r] : 0,
           w->groups ? w->scales + r * w->groups : 0, w->kind == SLIM_U4_INT4_ASYM ? w->zeros + r * w->groups : 0, &a, &b);
    return fabs(a * ref_level(w->kind, w->data + r * w->rb, i)) + fabs(b);
}

// Σ x·w in double for row r, with Σ|x|·(|a·u| + |b|) beside it for the bound.
static double dot_ref(const float *x, const weights *w, int r, double *mag) {
    double s = 0, m = 0;
    for (int i = 0; i < w->k; i++) {
        s += (double)x[i] * weight_at(w, r, i);
        m += fabs((double)x[i]) * term_at(w, r, i);
    }
    *mag = m;
    return s;
}

// Outputs at out[t·os + r] for r in [first, first + count), t < tokens, the
// rest still poison; `rounds`: the roundings on one output's way.
static void check_outputs(const char *what, const float *out, long os, long size, int tokens, int first, int count,
                          const float *x, long xs, const weights *w, double rounds) {
    int bad = 0;
    for (long i = 0; i < size && !bad; i++) {
        const long t = i / os, r = i % os;
        const int written = t < tokens && r >= first && r < first + count;
        if (!written) {
            if (!is_poison_f(out[i])) bad = !check(0, what, "out[%ld] (token %ld, row %ld) written outside the rows\n", i, t, r);
            continue;
        }
        double mag;
        const double want = dot_ref(x + t * xs, w, (int)r, &mag);
        const double tol = (rounds + 16) * U32 * mag;
        if (!near(out[i], want, tol))
            bad = !check(0, what, "%s k=%d tokens=%d row %ld token %ld: got %.9g, want %.9g (tol %.3g)\n", kind_name(w->kind),
                        w->k, tokens, r, t, out[i], want, tol);
    }
    if (!bad) check(1, what, " ");
}

static void check_rows_runs(int kind) {
    const int runs = rnd_int(1, 13), k = 32 * runs, n = rnd_int(17, 41), tokens = rnd_int(1, 7);
    const int first = rnd_int(0, 5), count = n - first - rnd_int(0, 3);
    weights w = make_weights(kind, k, n);
    const long xs = k + rnd_int(0, 7), os = n + rnd_int(1, 5);
    float *x = malloc(sizeof(float) * xs * tokens), *xsum = malloc(sizeof(float) * runs * tokens);
    float *out = malloc(sizeof(float) * os * tokens);
    fill_floats(x, xs * tokens, -1, 1);
    for (int t = 0; t < tokens; t++) {
        slim_run_sums(x + t * xs, runs, xsum + t * runs);
        for (int r = 0; r < runs; r++) {
            double s = 0, m = 0;
            for (int i = 0; i < 32; i++) s += x[t * xs + r * 32 + i], m += fabs(x[t * xs + r * 32 + i]);
            check(near(xsum[t * runs + r], s, 34 * U32 * m), "slim_run_sums", "run %d: %.9g vs %.9g\n", r, xsum[t * runs + r], s);
        }
    }
    poison_floats(out, os * tokens);
    slim_paths_take();
    slim_rows_runs(x, xs, tokens, xsum, w.data, w.rb, first, count, runs, kind, w.group_shift, w.groups ? w.scales : 0,
                   kind == SLIM_U4_INT4_ASYM ? w.zeros : 0, w.groups, out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1), "slim_rows_runs dispatch");
    check_outputs("slim_rows_runs", out, os, os * tokens, tokens, first, count, x, xs, &w, k + runs);

    // The row kernels on their own: one row, 1...4 tokens.
    const int tc = rnd_int(1, tokens < 4 ? tokens : 4), r = rnd_int(0, n - 1);
    poison_floats(out, os * tokens);
    if (kind == SLIM_ROW_Q8_0) slim_qrow_q8_0(x, xs, tc, w.data + r * w.rb, runs, out + r, os, check_isa);
    else
        slim_qrow_u4(x, xs, tc, w.data + r * w.rb, runs, kind, w.group_shift, w.groups ? w.scales + r * w.groups : 0,
                     kind == SLIM_U4_INT4_ASYM ? w.zeros + r * w.groups : 0, xsum, out + r, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1), kind == SLIM_ROW_Q8_0 ? "slim_qrow_q8_0 dispatch" : "slim_qrow_u4 dispatch");
    check_outputs(kind == SLIM_ROW_Q8_0 ? "slim_qrow_q8_0" : "slim_qrow_u4", out, os, os * tokens, tc, r, 1, x, xs, &w, k + runs);
    free(x), free(xsum), free(out), free_weights(&w);
}

static void check_rows_int8(void) {
    const int k = rnd_int(1, 300), n = rnd_int(17, 41), tokens = rnd_int(1, 7);
    const int first = rnd_int(0, 5), count = n - first - rnd_int(0, 3);
    weights w = make_weights(SLIM_ROW_INT8, k, n);
    const long xs = k + rnd_int(0, 7), os = n + rnd_int(1, 5);
    float *x = malloc(sizeof(float) * xs * tokens), *out = malloc(sizeof(float) * os * tokens);
    fill_floats(x, xs * tokens, -1, 1);
    poison_floats(out, os * tokens);
    slim_paths_take();
    slim_rows_int8(x, xs, tokens, (const int8_t *)w.data, k, w.scales, first, count, out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1), "slim_rows_int8 dispatch");
    check_outputs("slim_rows_int8", out, os, os * tokens, tokens, first, count, x, xs, &w, k);
    free(x), free(out), free_weights(&w);
}

static void check_dequant_row(int kind) {
    const int k = kind == SLIM_ROW_INT8 ? rnd_int(1, 300) : 32 * rnd_int(1, 13);
    weights w = make_weights(kind, k, 1);
    float *out = malloc(sizeof(float) * (k + 8));
    poison_floats(out, k + 8);
    slim_paths_take();
    slim_dequant_row(w.data, k, kind, w.group_shift, kind == SLIM_ROW_INT8 ? w.scales[0] : 0, w.groups ? w.scales : 0,
                     kind == SLIM_U4_INT4_ASYM ? w.zeros : 0, out, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1), "slim_dequant_row dispatch");
    int bad = 0;
    for (int i = 0; i < k + 8 && !bad; i++) {
        if (i >= k) {
            if (!is_poison_f(out[i])) bad = !check(0, "slim_dequant_row", "%s k=%d: out[%d] written past k\n", kind_name(kind), k, i);
            continue;
        }
        // a·u + b: two roundings (one with an FMA)
        const double want = weight_at(&w, 0, i), tol = 2 * U32 * term_at(&w, 0, i);
        if (!near(out[i], want, tol))
            bad = !check(0, "slim_dequant_row", "%s k=%d: out[%d] = %.9g, want %.9g\n", kind_name(kind), k, i, out[i], want);
    }
    if (!bad) check(1, "slim_dequant_row", " ");
    free(out), free_weights(&w);
}

// W8A8 rows: int32 dots, exact.
static void check_qrow_i8i8(void) {
    const int k = rnd_int(1, 700), tokens = rnd_int(1, 4);
    const long xs = k + rnd_int(0, 9), os = rnd_int(1, 3);
    int8_t *qx = malloc(xs * tokens), *w = malloc(k);
    int32_t out[16];
    fill_bytes((uint8_t *)qx, xs * tokens), fill_bytes((uint8_t *)w, k);
    // Weights take the whole int8 range: imported W8A8 checkpoints can hold
    // −128. Activations are symmetric (slim_quantize_row_i8 gives −127...127),
    // so the AVX2 kernel can negate them by the weights' sign without wrapping;
    // w = −128 against x = ±127 is the largest |product| (the int16 pair sums
    // stay below their limit: 2·128·127 < 2^15).
    for (long i = 0; i < (long)xs * tokens; i++) qx[i] = qx[i] == -128 ? -127 : qx[i];
    if (rnd_int(0, 1)) w[0] = -128, qx[0] = 127;
    if (k > 1 && rnd_int(0, 1)) w[1] = -128, qx[1] = -127;
    for (int i = 0; i < 16; i++) out[i] = POISON_I32;
    slim_paths_take();
    slim_qrow_i8i8(qx, xs, tokens, w, k, out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1 | L2), "slim_qrow_i8i8 dispatch");
    int bad = 0;
    for (int i = 0; i < 16 && !bad; i++) {
        if (i % os || i / os >= tokens) {
            if (out[i] != POISON_I32) bad = !check(0, "slim_qrow_i8i8", "k=%d: out[%d] written between tokens\n", k, i);
            continue;
        }
        int64_t want = 0;
        for (int j = 0; j < k; j++) want += (int64_t)qx[i / os * xs + j] * w[j];
        if (out[i] != want) bad = !check(0, "slim_qrow_i8i8", "k=%d token %ld: %d, want %lld\n", k, i / os, out[i], (long long)want);
    }
    if (!bad) check(1, "slim_qrow_i8i8", " ");
    free(qx), free(w);
}

// int8 activations (per-run fp16 scales or one per row) times every runs kind.
// `prompt`: 16 to 23 tokens (the tiled GEMM's shapes, cpu_runs_gemm.c), else 1 to 7.
static void check_rows_runs_i8(int kind, int per_run, int prompt) {
    const int runs = rnd_int(1, 13), k = 32 * runs, n = rnd_int(17, 41), tokens = prompt ? rnd_int(16, 23) : rnd_int(1, 7);
    const int first = rnd_int(0, 5), count = n - first - rnd_int(0, 3);
    weights w = make_weights(kind, k, n);
    const long xs = k + 32 * rnd_int(0, 1), os = n + rnd_int(1, 5);
    float *x = malloc(sizeof(float) * k), *xd = malloc(sizeof(float) * runs * tokens);
    float *xsum = malloc(sizeof(float) * runs * tokens), *out = malloc(sizeof(float) * os * tokens);
    int8_t *qx = malloc(xs * tokens);
    for (int t = 0; t < tokens; t++) {
        fill_floats(x, k, -1, 1);
        slim_quantize_runs_i8(x, k, per_run, qx + t * xs, xd + t * runs, xsum + t * runs, check_isa);
    }
    poison_floats(out, os * tokens);
    slim_paths_take();
    slim_rows_runs_i8(qx, xs, tokens, xd, xsum, w.data, w.rb, first, count, runs, kind, w.group_shift,
                      w.groups || kind == SLIM_ROW_INT8 ? w.scales : 0, kind == SLIM_U4_INT4_ASYM ? w.zeros : 0, w.groups,
                      out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1 | L2, L1 | L2), "slim_rows_runs_i8 dispatch");
    int bad = 0;
    for (long i = 0; i < os * tokens && !bad; i++) {
        const long t = i / os, r = i % os;
        if (r < first || r >= first + count) {
            if (!is_poison_f(out[i])) bad = !check(0, "slim_rows_runs_i8", "out[%ld] written outside the rows\n", i);
            continue;
        }
        // Σ_runs xd·Σ q_x·w (w as decoded: a·u + b, so the b part is b·xd·Σq_x = b·xsum).
        double want = 0, mag = 0;
        for (int run = 0; run < runs; run++) {
            double s = 0, m = 0;
            for (int j = 0; j < 32; j++) {
                s += (double)qx[t * xs + run * 32 + j] * weight_at(&w, (int)r, run * 32 + j);
                m += fabs((double)qx[t * xs + run * 32 + j]) * term_at(&w, (int)r, run * 32 + j);
            }
            want += xd[t * runs + run] * s;
            mag += fabs(xd[t * runs + run]) * m;
        }
        const double tol = (runs + 16) * U32 * mag;
        if (!near(out[i], want, tol))
            bad = !check(0, "slim_rows_runs_i8", "%s %s k=%d tokens=%d row %ld token %ld: got %.9g, want %.9g (tol %.3g)\n",
                        kind_name(kind), per_run ? "per-run" : "per-row", k, tokens, r, t, out[i], want, tol);
    }
    if (!bad) check(1, "slim_rows_runs_i8", " ");
    free(x), free(xd), free(xsum), free(out), free(qx), free_weights(&w);
}

void check_qgemm(void) {
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < 4; i++) check_rows_runs(U4_KINDS[i]);
        check_rows_runs(SLIM_ROW_Q8_0);
        check_rows_int8();
        check_qrow_i8i8();
        for (int i = 0; i < 4; i++) check_dequant_row(U4_KINDS[i]);
        check_dequant_row(SLIM_ROW_Q8_0);
        check_dequant_row(SLIM_ROW_INT8);
        for (int per_run = 0; per_run < 2; per_run++) {
            for (int prompt = 0; prompt < 2; prompt++) {
                for (int i = 0; i < 4; i++) check_rows_runs_i8(U4_KINDS[i], per_run, prompt);
                check_rows_runs_i8(SLIM_ROW_Q8_0, per_run, prompt);
                check_rows_runs_i8(SLIM_ROW_INT8, per_run, prompt);
            }
        }
    }
}
