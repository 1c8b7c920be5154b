#ifndef SLIM_CPU_ATTENTION_H
#define SLIM_CPU_ATTENTION_H
// The softmax step of the CPU backend's blocked attention: the score block
// S = scale·Q·Kᵀ comes from the register tiles of cpu_flash_attention.c, this
// turns it into probabilities with an online (running max and sum) softmax,
// and the tiles then add P·V. (The backward's softmax rows live beside its
// tiles, in cpu_flash_attention.c.)

/// For each of `rows` rows of `s` (`lds` apart, `cols` scores each): key j is
/// visible when j < limit[r] and (j ≥ first[r] or j < global), all relative
/// to the block (a window's lower edge; global keys are exempt); the running max `m[r]` and sum `l[r]` are
/// updated; row r of `o` (`d` floats, `ldo` apart) is rescaled by
/// exp(m_old − m_new); `s` is overwritten with exp(s − m_new), zero where masked.
/// At most the instruction-set level `isa` (a SLIM_ISA_ value, see cpu_isa.h).
void slim_attention_softmax_block(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                  float *m, float *l, float *o, int d, long ldo, int isa);

#endif
