#include <stdio.h>
extern int enzyme_dup;
void __enzyme_autodiff(void *, ...);
/* The atomic add of the double itself. */
void accumulate(double *sum, const double *x) { __atomic_fetch_add(sum, *x * *x, __ATOMIC_RELAXED); }
int main(void) {
  double sum = 0, dsum = 1, x = 3, dx = 0;
  __enzyme_autodiff((void *)accumulate, enzyme_dup, &sum, &dsum, enzyme_dup, &x, &dx);
  printf("%g\n", dx);
  return 0;
}
