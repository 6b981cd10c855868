#include <stdint.h>
#include <stdio.h>
#include <string.h>
extern int enzyme_dup;
void __enzyme_autodiff(void *, ...);
/* Adds a double's bits to a double's bits: integer arithmetic, which has no derivative. */
void accumulate(double *sum, const double *x) {
  uint64_t bits;
  memcpy(&bits, x, sizeof bits);
  __atomic_fetch_add((uint64_t *)sum, bits, __ATOMIC_RELAXED);
}
int main(void) {
  double sum = 0, dsum = 1, x = 3, dx = 0;
  __enzyme_autodiff((void *)accumulate, enzyme_dup, &sum, &dsum, enzyme_dup, &x, &dx);
  printf("%g\n", dx);
  return 0;
}
