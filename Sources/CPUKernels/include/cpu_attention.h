#ifndef SLIM_CPU_ATTENTION_H
#define SLIM_CPU_ATTENTION_H
// The softmax step of the CPU backend's blocked attention: the score block
// S = scale·Q·Kᵀ comes from sgemm, this turns it into probabilities with an
// online (running max and sum) softmax, and sgemm then adds P·V.

/// For each of `rows` rows of `s` (`lds` apart, `cols` scores each): key j is
/// visible when j < limit[r] and (j ≥ first[r] or j < global), all relative
/// to the block (a window's lower edge; global keys are exempt); the running max `m[r]` and sum `l[r]` are
/// updated; row r of `o` (`d` floats, `ldo` apart) is rescaled by
/// exp(m_old − m_new); `s` is overwritten with exp(s − m_new), zero where masked.
/// At most the instruction-set level `isa` (a SLIM_ISA_ value, see cpu_isa.h).
void slim_attention_softmax_block(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                  float *m, float *l, float *o, int d, long ldo, int isa);

/// Backward pass: turns a score block into the probabilities of the forward
/// pass, s = exp(s − lse[r]) where visible (as above), 0 elsewhere.
void slim_attention_probabilities(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                  const float *lse);

/// dS = P ∘ (dP − delta[r]) in place in `dp`.
void slim_attention_dscores(const float *p, float *dp, int rows, int cols, long ld, const float *delta);

#endif
