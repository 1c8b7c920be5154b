// The elementwise epilogues (cpu_activations.h), attention's softmax steps
// (cpu_attention.h) and the thread pool (cpu_pool.h), against float64.
#include "check_support.h"
#include <stdatomic.h>

static double gelu_ref(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_slope_ref(double x) { return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI); }
static double gate_ref(double g, int activation) {
    const double z = activation == SLIM_GATE_GELU_TANH ? 2 * sqrt(2 / M_PI) * (g + 0.044715 * g * g * g) : g;
    return g / (1 + exp(-z));
}

// Bounds from the conditioning: erfc(t) for t = |x|/√2 turns t's rounding (u
// relative) into 2t²·u = x²·u relative in the tail, and σ(z) for z < 0 turns
// the roundings of z (a few, each relative to |z|) into about 6|z|·u; a few
// more u for the products. Twice the GELU bound: the vector erfc adds an
// error of the same order as the conditioning's (2.5e-6 relative at x = −5.7).
static void check_activations(void) {
    const int rows = rnd_int(1, 5), n = rnd_int(1, 77);
    const long ld = n + rnd_int(0, 5), size = ld * rows;
    float *x = malloc(sizeof(float) * size), *y = malloc(sizeof(float) * size), *up = malloc(sizeof(float) * size);
    float *bias = malloc(sizeof(float) * n);
    fill_floats(x, size, -6, 6), fill_floats(up, size, -2, 2), fill_floats(bias, n, -1, 1);
    // A few values past the polynomials' ranges and non-finite ones: NaN stays
    // NaN, ±inf and ±100 saturate as the scalar C functions do.
    static const float special[] = {NAN, INFINITY, -INFINITY, 100.0f, -100.0f, 1e-30f, -1e-30f, 0.0f};
    for (int i = 0; i < 3; i++) x[rnd_int(0, (int)size - 1)] = special[rnd_int(0, 7)];
    int bad = 0;

    poison_floats(y, size);
    slim_paths_take();
    slim_gelu(x, y, size - 1, check_isa);
    check_paths(SLIM_PATHS_ELEMENTWISE, LEVELS(L1, L1), "slim_gelu dispatch");
    for (long i = 0; i < size - 1 && !bad; i++)
        if (!near(y[i], gelu_ref(x[i]), (16 + 2 * (double)x[i] * x[i]) * U32 * fabs(gelu_ref(x[i])) + 1e-38))
            bad = !check(0, "slim_gelu", "x=%.9g: %.9g, want %.9g\n", x[i], y[i], gelu_ref(x[i]));
    if (!bad && size > 0) bad = !check(is_poison_f(y[size - 1]), "slim_gelu", "wrote past n=%ld\n", size - 1);
    if (!bad) check(1, "slim_gelu", " ");

    // The backward: dx = dy·(Φ(x) + x·φ(x)), the two terms' magnitudes bounding
    // the error as the GELU's own (they have opposite signs for x < 0).
    poison_floats(y, size);
    slim_gelu_backward(x, up, y, size - 1, check_isa);
    check_paths(SLIM_PATHS_ELEMENTWISE, LEVELS(L1, L1), "slim_gelu_backward dispatch");
    bad = 0;
    for (long i = 0; i < size - 1 && !bad; i++) {
        const double v = x[i], want = up[i] * gelu_slope_ref(v);
        const double scale = fabs(up[i]) * (0.5 * erfc(-v / sqrt(2.0)) + fabs(v) * exp(-0.5 * v * v) / sqrt(2 * M_PI));
        if (!near(y[i], want, (16 + 2 * v * v) * U32 * scale + 1e-38))
            bad = !check(0, "slim_gelu_backward", "x=%.9g dy=%.9g: %.9g, want %.9g\n", x[i], up[i], y[i], want);
    }
    if (!bad && size > 0) bad = !check(is_poison_f(y[size - 1]), "slim_gelu_backward", "wrote past n=%ld\n", size - 1);
    if (!bad) check(1, "slim_gelu_backward", " ");

    for (int gelu = 0; gelu < 2; gelu++) {
        memcpy(y, x, sizeof(float) * size);
        const int with_bias = rnd_int(0, 1);
        slim_bias_gelu(y, rows, n, ld, with_bias ? bias : 0, gelu, check_isa);
        check_paths(SLIM_PATHS_ELEMENTWISE, LEVELS(L1, L1), "slim_bias_gelu dispatch");
        bad = 0;
        for (long i = 0; i < size && !bad; i++) {
            const int j = (int)(i % ld);
            if (j >= n) {
                bad = !check(!memcmp(&y[i], &x[i], sizeof(float)), "slim_bias_gelu", "changed y[%ld] outside the rows' n=%d\n", i, n);
                continue;
            }
            const float v = x[i] + (with_bias ? bias[j] : 0.0f);  // the sum is fp32 by definition
            const double want = gelu ? gelu_ref(v) : v;
            if (!near(y[i], want, (16 + 2 * (double)v * v) * U32 * fabs(want) + 1e-38))
                bad = !check(0, "slim_bias_gelu", "gelu=%d v=%.9g: %.9g, want %.9g\n", gelu, v, y[i], want);
        }
        if (!bad) check(1, "slim_bias_gelu", " ");
    }

    for (int act = SLIM_GATE_SILU; act <= SLIM_GATE_GELU_TANH; act++) {
        poison_floats(y, size);
        slim_gated_activation(x, up, y, size - 1, act, check_isa);
        check_paths(SLIM_PATHS_ELEMENTWISE, LEVELS(L1, L1), "slim_gated_activation dispatch");
        bad = 0;
        for (long i = 0; i < size - 1 && !bad; i++) {
            const double want = gate_ref(x[i], act) * up[i], z = act ? 1.6 * fabs(x[i]) * (1 + 0.045 * x[i] * x[i]) : fabs(x[i]);
            if (!near(y[i], want, (8 + 6 * z) * U32 * fabs(want) + 1e-38))
                bad = !check(0, "slim_gated_activation", "act %d g=%.9g up=%.9g: %.9g, want %.9g\n", act, x[i], up[i], y[i], want);
        }
        if (!bad && size > 0) bad = !check(is_poison_f(y[size - 1]), "slim_gated_activation", "wrote past n\n");
        if (!bad) check(1, "slim_gated_activation", " ");
    }
    free(x), free(y), free(up), free(bias);
}

// One online-softmax block: for each row, the visible keys j (j < limit and
// (j ≥ first or j < global)) become exp(s − m_new), the rest 0; m, l and the
// output row o are carried over as the header says.
static void check_softmax_block(void) {
    const int rows = rnd_int(1, 9), cols = rnd_int(1, 70), d = rnd_int(1, 20), global = rnd_int(-1, 3);
    const long lds = cols + rnd_int(0, 4), ldo = d + rnd_int(0, 3);
    float *s = malloc(sizeof(float) * lds * rows), *s0 = malloc(sizeof(float) * lds * rows), *o = malloc(sizeof(float) * ldo * rows);
    float *o0 = malloc(sizeof(float) * ldo * rows), m[9], l[9], m0[9], l0[9];
    int first[9], limit[9];
    fill_floats(s0, lds * rows, -8, 8), fill_floats(o0, ldo * rows, -1, 1);
    for (int r = 0; r < rows; r++) {
        first[r] = rnd_int(-2, cols);
        limit[r] = rnd_int(-1, cols + 2);
        m0[r] = rnd_int(0, 2) ? rnd_float(-4, 4) : -INFINITY;  // -inf: the row's first block
        l0[r] = m0[r] == -INFINITY ? 0 : rnd_float(0.5f, 3);
    }
    memcpy(s, s0, sizeof(float) * lds * rows), memcpy(o, o0, sizeof(float) * ldo * rows);
    memcpy(m, m0, sizeof m), memcpy(l, l0, sizeof l);
    slim_paths_take();
    slim_attention_softmax_block(s, rows, cols, lds, first, limit, global, m, l, o, d, ldo, check_isa);
    check_paths(SLIM_PATHS_ATTENTION, LEVELS(L1, 0), "slim_attention_softmax_block dispatch");
    int bad = 0;
    for (int r = 0; r < rows && !bad; r++) {
        const int hi = limit[r] < 0 ? 0 : limit[r] > cols ? cols : limit[r];
        double peak = m0[r];
        for (int j = 0; j < hi; j++)
            if (j >= first[r] || j < global) peak = fmax(peak, s0[r * lds + j]);
        if (peak == -INFINITY) {  // nothing visible yet: the block is all zeros, the state untouched
            for (int j = 0; j < cols && !bad; j++) bad = !check(s[r * lds + j] == 0, "slim_attention_softmax_block", "empty row %d col %d not 0\n", r, j);
            bad = bad || !check(m[r] == m0[r] && l[r] == l0[r], "slim_attention_softmax_block", "empty row %d changed m/l\n", r);
            continue;
        }
        bad = !check(m[r] == (float)peak, "slim_attention_softmax_block", "row %d m %.9g, want %.9g\n", r, m[r], peak);
        const double alpha = exp(m0[r] - peak);
        double sum = 0, sum_tol = 0;
        for (int j = 0; j < cols && !bad; j++) {
            const int visible = j < hi && (j >= first[r] || j < global);
            const double want = visible ? exp(s0[r * lds + j] - peak) : 0, tol = (8 + fabs(s0[r * lds + j] - peak)) * 2 * U32 * want;
            sum += want, sum_tol += tol;
            bad = !check(near(s[r * lds + j], want, tol), "slim_attention_softmax_block", "row %d col %d (first %d limit %d global %d): %.9g, want %.9g\n",
                         r, j, first[r], limit[r], global, s[r * lds + j], want);
        }
        // alpha = exp(m_old − m_new) is 0 for a first block (m_old = −inf)
        const double l_want = l0[r] * alpha + sum, a_tol = alpha > 0 ? (8 + fabs(m0[r] - peak)) * 2 * U32 * alpha : 0;
        bad = bad || !check(near(l[r], l_want, sum_tol + (cols + 8) * U32 * l_want + l0[r] * a_tol), "slim_attention_softmax_block",
                            "row %d l %.9g, want %.9g\n", r, l[r], l_want);
        for (int e = 0; e < d && !bad; e++)
            bad = !check(near(o[r * ldo + e], o0[r * ldo + e] * alpha, fabs(o0[r * ldo + e]) * (a_tol + U32 * alpha)),
                         "slim_attention_softmax_block", "row %d o[%d] %.9g, want %.9g\n", r, e, o[r * ldo + e], o0[r * ldo + e] * alpha);
    }
    if (!bad) check(1, "slim_attention_softmax_block", " ");

    free(s), free(s0), free(o), free(o0);
}

void check_elementwise(void) {
    for (int rep = 0; rep < 4; rep++) {
        check_activations();
        check_softmax_block();
    }
}

// ------------------------------------------------------------- pool
typedef struct {
    _Atomic int ran[64];
    _Atomic int nested;
} pool_job;

static void pool_task(void *context, int chunk) {
    pool_job *job = context;
    atomic_fetch_add(&job->ran[chunk], 1);
    // The pool is busy with this job: a nested call must refuse, running nothing.
    if (chunk == 0) atomic_store(&job->nested, slim_pool_run(2, 1, pool_task, context) == 0 ? 1 : 2);
}

void check_pool(void) {
    for (int rep = 0; rep < 20; rep++) {
        const int threads = rnd_int(2, 4), chunks = rnd_int(1, 63);
        pool_job job = {0};
        const int done = slim_pool_run(threads, chunks, pool_task, &job);
        int ok = check(done == 1, "slim_pool_run", "returned %d for %d chunks on %d threads\n", done, chunks, threads);
        for (int c = 0; c < 64 && ok; c++)
            ok = check(job.ran[c] == (c < chunks), "slim_pool_run", "chunk %d of %d ran %d times\n", c, chunks, job.ran[c]);
        if (ok) check(job.nested == 1, "slim_pool_run", "a nested call did not refuse (%d)\n", job.nested);
    }
}
