#include <signal.h>
#include <stdio.h>
extern int enzyme_dup, enzyme_const;
double __enzyme_autodiff(void *, ...);
static double sq(const double *x) { return x[0] * x[0]; }
int main(void) {
  double x[1] = {3}, dx[1] = {0};
  __enzyme_autodiff((void *)sq, enzyme_dup, x, dx);
  raise(SIGSEGV);
  __enzyme_autodiff((void *)sq, enzyme_dup, x, dx);
  printf("%g\n", dx[0]);
  return 0;
}
