#ifndef SLIM_CPU_FLASH_ATTENTION_H
#define SLIM_CPU_FLASH_ATTENTION_H
// One step of the CPU backend's block-sparse attention: a query block against
// one kept key block, all in C with register tiles (cpu_flash_attention.c).

/// Scratch rows are padded to a multiple of this, columns (keys, head dims) to a multiple of the other.
enum { SLIM_ATTENTION_PAD_ROWS = 8, SLIM_ATTENTION_PAD_COLS = 16 };

/// Lays out a query block for slim_attention_block: `rows` queries (`ldq`
/// apart, `d` each) times `scale`, `ldqs` ≥ d apart with zeros past d, zero
/// rows up to round_up(rows, PAD_ROWS). (The backward lays out whole heads of
/// queries, dO and keys the same way, with ldqs = round_up(d, PAD_COLS).)
void slim_attention_queries(const float *q, long ldq, int rows, int d, float scale, float *qs, long ldqs);

/// Kᵀ of a head's `keys` keys (`ldk` apart, `d` each): kt[e · ldkt + t] = k[t · ldk + e],
/// zeros for t in [keys, ldkt). Blocks read up to 15 keys past their own, so
/// ldkt ≥ round_up(keys, PAD_COLS) + PAD_COLS.
void slim_attention_keys(const float *k, long ldk, int keys, int d, float *kt, long ldkt);

/// For a query block `qs` (from slim_attention_queries) and `cols` keys (the
/// block's first column of a head's Kᵀ, `kt`, rows `ldkt` apart) and values
/// (v, `ldk` apart): scores S = Q·Kᵀ; then the online softmax of
/// slim_attention_softmax_block (masking by first/limit/global as it documents,
/// updating the running max `m` and sum `l`, rescaling `acc`); then
/// acc += P·V. `acc` has round_up(rows, PAD_ROWS) rows `ldacc` apart with
/// ldacc ≥ round_up(d, PAD_COLS); only its first `rows` rows and `d` columns
/// mean anything. `careful` (V holds NaN or ±∞): P·V over each row's visible
/// keys only, so a masked key's weight 0 never meets a non-finite value.
/// `scratch` holds slim_attention_block_scratch(block ≥ rows, cols; d) floats.
/// At most level `isa` (a SLIM_ISA_ limit; the tiles note theirs under SLIM_PATHS_GEMM).
void slim_attention_block(const float *qs, const float *kt, long ldkt, const float *v, long ldk, int rows, int cols, int d,
                          const int *first, const int *limit, int global, int careful, float *m, float *l, float *acc,
                          long ldacc, float *scratch, int isa);

/// Floats of scratch slim_attention_block needs for blocks of at most `block` rows and keys.
long slim_attention_block_scratch(int block, int d);

/// The backward of one (query block × key block) step: with P = exp(S − lse)
/// where key j is visible to row r (as slim_attention_block masks: j < limit[r]
/// and j ≥ first[r] or j < global) and 0 elsewhere, S = Qs·Kᵀ, and
/// dS = P ∘ (dO·Vᵀ − delta[r]) (0 where masked, and on rows whose lse is −∞ or
/// NaN), it adds dV += Pᵀ·dO, dK += dSᵀ·Qs and dQ += dS·K (the caller scales
/// dQ by the softmax scale; dK has it through Qs).
/// - qs, dos: the block's queries times the scale and its output gradients,
///   rows `ldqs` ≥ round_up(d, PAD_COLS) apart with zeros past d, readable up
///   to round_up(rows, PAD_ROWS) rows (slim_attention_queries); dos finite
///   (a row whose lse is −∞ or NaN gets P = 0, and 0 · NaN would spread:
///   the caller zeroes such a row's dO);
/// - kt, vt: the block's first column of the head's Kᵀ and Vᵀ, `ldkt` apart
///   (slim_attention_keys: 16 keys readable past the block);
/// - k: the block's keys as rows `ldk` ≥ round_up(d, PAD_COLS) apart, zeros
///   past d; keys at or past every row's limit are never read;
/// - lse, delta: per row, the forward's log-sum-exp and Δ = rowsum(dO ∘ O);
/// - dq (round_up(rows, PAD_ROWS) rows), dk, dv (round_up(cols, PAD_ROWS)
///   rows): accumulators `ldg` ≥ round_up(d, PAD_COLS) apart; rows and
///   columns past the real ones receive exact zeros.
/// `scratch` holds slim_attention_backward_scratch(block ≥ rows, cols)
/// floats. At most level `isa` (tiles under SLIM_PATHS_GEMM, the softmax
/// rows under SLIM_PATHS_ATTENTION).
void slim_attention_backward_block(const float *qs, const float *dos, long ldqs, const float *kt, const float *vt, long ldkt,
                                   const float *k, long ldk, int rows, int cols, int d, const int *first, const int *limit,
                                   int global, const float *lse, const float *delta, float *dq, float *dk, float *dv,
                                   long ldg, float *scratch, int isa);

/// Floats of scratch slim_attention_backward_block needs for blocks of at most `block` rows and keys.
long slim_attention_backward_scratch(int block);

#endif
