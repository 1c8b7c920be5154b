// The k-quant rows times int8 activations in x86 vector code, included by
// cpu_kquants.c twice: with KQ(name) naming the AVX2 copy and DOT_U8S8 the
// maddubs/madd product, then the AVX-512 VNNI copy with vpdpbusd (VL, 256
// bits), each function under KQ_TARGET (a target attribute, which GCC, the
// C harness's compiler, needs: it ignores clang's attribute pragma). Both are exact integer dot products per run of 32 weights, as
// cpu_kquants.h defines them; the super-block's levels are decoded in
// registers once per group of four tokens and never stored.
//
// Each run's dot product is a vector of eight int32 lanes (lane j: weights
// 4j...4j+3); the eight runs of a super-block are summed across lanes
// together (three rounds of hadd, run i in lane i), so the float work (one
// convert, one FMA with a·xd, one FMA with b·xsum) is done for eight runs at
// once. DOT_U8S8's unsigned operand is a level (Q4_K 0...15, Q6_K 0...63)
// and its signed one the activations (−127...127): maddubs' int16 pair sums
// stay below 2·63·127 < 2^15.

// Eight runs' int32 dots, one per vector, to one lane each (run i in lane i).
KQ_TARGET static inline __m256i KQ(sum_runs8)(const __m256i v[8]) {
    const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i g0 = _mm256_hadd_epi32(h01, h23), g1 = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

KQ_TARGET static inline float KQ(hsum8)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Q4_K's eight 6-bit scales (low 8 bytes of the result) and minimums (high 8)
// from the 12 packed bytes, with 32-bit masks as llama.cpp's AVX2 kernel does
// (get_scale_min_k4 for all eight sub-blocks at once).
KQ_TARGET static inline __m128i KQ(q4k_scales_mins)(const uint8_t *packed) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    const uint32_t mins_lo = u[1] & m6;
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    u[2] = mins_lo;
    u[0] &= m6;
    return _mm_loadu_si128((const __m128i *)u);
}

// T tokens (1...4, a constant after inlining) of one row: the super-blocks'
// run dots into acc[t] (a·xd·dot) and off[t] (b·xsum, Q4_K's minimums).
KQ_TARGET static inline __attribute__((always_inline)) void KQ(row_i8_t)(const int8_t *qx, long xs, const int T, const float *xd,
                                                              const float *xsum, const uint8_t *row, int blocks,
                                                              const int kind, float *out, long os) {
    const int runs = blocks * 8, bb = kind == SLIM_K_Q4_K ? 144 : 210;
    const __m256i low4 = _mm256_set1_epi8(0x0F), high2 = _mm256_set1_epi8(0x30), c32 = _mm256_set1_epi8(32);
    __m256 acc[4], off[4];
    for (int t = 0; t < T; t++) acc[t] = off[t] = _mm256_setzero_ps();
    for (int sb = 0; sb < blocks; sb++) {
        const uint8_t *blk = row + (long)sb * bb;
        __m256i u[8];
        __m256 a8, b8 = _mm256_setzero_ps();
        if (kind == SLIM_K_Q4_K) {
            const __m128i sm = KQ(q4k_scales_mins)(blk + 4);
            const __m256 d = _mm256_set1_ps(kq_half(blk)), dmin = _mm256_set1_ps(kq_half(blk + 2));
            a8 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sm)));
            b8 = _mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), dmin),
                               _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))));
            // Chunk c of 32 bytes: low nibbles run 2c, high nibbles run 2c + 1.
            for (int c = 0; c < 4; c++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * c));
                u[2 * c] = _mm256_and_si256(q, low4);
                u[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            }
        } else {
            // Q6_K: run 4h + i has its low nibbles in ql[64h + 32(i & 1) + l] (low
            // half for i < 2, high for i ≥ 2) and its top two bits at bit 2i of
            // qh[32h + l]; levels 0...63 here, the −32 and the 16-weight scales below.
            a8 = _mm256_set1_ps(kq_half(blk + 208));
            for (int h = 0; h < 2; h++) {
                const __m256i q0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
                const __m256i q1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
                u[4 * h] = _mm256_or_si256(_mm256_and_si256(q0, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), high2));
                u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(q1, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), high2));
                u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q0, 4), low4), _mm256_and_si256(hb, high2));
                u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q1, 4), low4),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), high2));
            }
        }
        // Q6_K's sub-block scales as int16, run i's two (weights 0-15, 16-31)
        // each repeated over the eight int16 that madd pairs into its four lanes.
        __m256i sc16[8];
        if (kind == SLIM_K_Q6_K) {
            const __m128i s = _mm_loadu_si128((const __m128i *)(blk + 192));
            const __m128i pick = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
            for (int i = 0; i < 8; i++)
                sc16[i] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s, _mm_add_epi8(pick, _mm_set1_epi8((char)(2 * i)))));
        }
        for (int t = 0; t < T; t++) {
            const int8_t *x = qx + t * xs + 256 * sb;
            __m256i dots[8];
            for (int i = 0; i < 8; i++) {
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(x + 32 * i));
                if (kind == SLIM_K_Q4_K) dots[i] = DOT_U8S8(u[i], xv);
                else {
                    // Σ sc·(q − 32)·x: the level products and 32·x in int16 pairs
                    // (|difference| ≤ 2·32·127), times the scale pairs into int32.
                    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u[i], xv), _mm256_maddubs_epi16(c32, xv));
                    dots[i] = _mm256_madd_epi16(p, sc16[i]);
                }
            }
            const __m256 d8 = _mm256_cvtepi32_ps(KQ(sum_runs8)(dots));
            const long at = (long)t * runs + 8 * sb;
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(a8, _mm256_loadu_ps(xd + at)), d8, acc[t]);
            if (kind == SLIM_K_Q4_K) off[t] = _mm256_fmadd_ps(b8, _mm256_loadu_ps(xsum + at), off[t]);
        }
    }
    for (int t = 0; t < T; t++) out[t * os] = KQ(hsum8)(_mm256_add_ps(acc[t], off[t]));
}

KQ_TARGET static void KQ(rows_i8)(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                             const uint8_t *data, long row_bytes, int first, int count, int k, int kind, float *out,
                             long os) {
    if (kind != SLIM_K_Q4_K && kind != SLIM_K_Q6_K) {  // Q5_0/Q5_1: the level's generic rows
        KQ(rows_i8_generic)(qx, xs, tokens, xd, xsum, data, row_bytes, first, count, k, kind, out, os);
        return;
    }
    const int blocks = k / 256, runs = k / 32;
#define KQ_ROW(K, T) KQ(row_i8_t)(qx + (long)t0 * xs, xs, T, xd + (long)t0 * runs, xsum + (long)t0 * runs, row, blocks, K, \
                                  out + (long)t0 * os + r, os)
#define KQ_TOKENS(K)                                \
    switch (tc) {                                   \
    case 1: KQ_ROW(K, 1); break;                    \
    case 2: KQ_ROW(K, 2); break;                    \
    case 3: KQ_ROW(K, 3); break;                    \
    default: KQ_ROW(K, 4); break;                   \
    }
    for (int r = first; r < first + count; r++) {
        const uint8_t *row = data + (long)r * row_bytes;
        for (int t0 = 0; t0 < tokens; t0 += 4) {
            const int tc = tokens - t0 < 4 ? tokens - t0 : 4;
            if (kind == SLIM_K_Q4_K) { KQ_TOKENS(SLIM_K_Q4_K) }
            else { KQ_TOKENS(SLIM_K_Q6_K) }
        }
    }
#undef KQ_TOKENS
#undef KQ_ROW
}
