// q = a / b and r = a % b, the remainder spelled as a - q * b: clang turns a
// `/` and `%` pair into a division and a `freeze` instruction, which
// Oclgrind 21.10's uninitialised-value checker cannot run (it stops the
// work-item: every output it had left to write stays unwritten).
#ifndef QUOTIENT_REMAINDER
#define QUOTIENT_REMAINDER(a, b, q, r) const int q = (a) / (b), r = (a) - q * (b)
#endif
