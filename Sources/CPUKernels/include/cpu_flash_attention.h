#ifndef SLIM_CPU_FLASH_ATTENTION_H
#define SLIM_CPU_FLASH_ATTENTION_H
// One step of the CPU backend's block-sparse attention: a query block against
// one kept key block, all in C with register tiles (cpu_flash_attention.c).

/// Scratch rows are padded to a multiple of this, columns (keys, head dims) to a multiple of the other.
enum { SLIM_ATTENTION_PAD_ROWS = 8, SLIM_ATTENTION_PAD_COLS = 16 };

/// Lays out a query block for slim_attention_block: `rows` queries (`ldq`
/// apart, `d` each) times `scale`, d apart, zero rows up to round_up(rows, PAD_ROWS).
void slim_attention_queries(const float *q, long ldq, int rows, int d, float scale, float *qs);

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

#endif
