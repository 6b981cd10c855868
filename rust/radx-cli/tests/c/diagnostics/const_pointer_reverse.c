#include <stdio.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
void f(double *out, double **slot, double *x) { *slot = x; *out = **slot * 2.0; }
int main(void) {
  double x = 3, out, dout = 1, *p, *dp;
  __enzyme_autodiff((void *)f, enzyme_dup, &out, &dout, enzyme_dup, &p, &dp, enzyme_const, &x);
  printf("%g\n", dout);
  return 0;
}
