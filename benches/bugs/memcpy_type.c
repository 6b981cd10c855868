/* ENGINE LIMITATION (reverse mode): "cannot deduce what type of data this copy moves" for a
 * memcpy between double arrays when the only typed accesses to that memory are in a callee
 * that is not inlined (here matmul4, noinline; in benches/hand it stays out of line because it
 * has several callers). Type analysis does not look into callees.
 *
 *   radx cc -O2 benches/bugs/memcpy_type.c -lm -o /tmp/mt
 *   -> radx: error: cannot deduce what type of data this copy moves (from `ptr %0` to `ptr %1`)
 *
 * Enzyme's type analysis is interprocedural (the callee's double loads and stores type its
 * pointer arguments), so this compiles with Enzyme. Without `noinline` it compiles with radx. */
#include "../common/bench.h"

__attribute__((noinline)) static void matmul4(const double *a, const double *b, double *out) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += a[4 * i + k] * b[4 * k + j];
      out[4 * i + j] = s;
    }
}

/* absolute transforms of a small skeleton: A_i = A_parent(i) R_i, the root's A = R */
__attribute__((noinline)) void chain(const double *rel, double *abs_) {
  static const int parent[4] = {-1, 0, 1, 0};
  for (int i = 0; i < 4; i++) {
    if (parent[i] < 0) memcpy(abs_ + 16 * i, rel + 16 * i, sizeof(double) * 16);
    else matmul4(abs_ + 16 * parent[i], rel + 16 * i, abs_ + 16 * i);
  }
}

int main(void) {
  double rel[64], drel[64] = {0}, abs_[64], seed[64];
  for (int i = 0; i < 64; i++) { rel[i] = 0.1 * i - 1; seed[i] = 1; }
  __enzyme_autodiff_void((void *)chain, enzyme_dup, rel, drel, enzyme_dupnoneed, abs_, seed);
  /* d sum(A1) / d R1[0] = sum_j ... : just print a few */
  printf("drel[0] = %g, drel[16] = %g\n", drel[0], drel[16]);
  return 0;
}
