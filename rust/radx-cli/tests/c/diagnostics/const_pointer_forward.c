#include <stdio.h>
extern int enzyme_dup, enzyme_const;
double __enzyme_fwddiff(void *, ...);
void f(double *out, double **slot, double *x) { *slot = x; *out = **slot * 2.0; }
int main(void) {
  double x = 3, dx = 1, out, dout, *p, *dp;
  __enzyme_fwddiff((void *)f, enzyme_dup, &out, &dout, enzyme_dup, &p, &dp, enzyme_const, &x);
  printf("%g\n", dout);
  return 0;
}
