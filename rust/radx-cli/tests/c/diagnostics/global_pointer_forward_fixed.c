#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double f(double *x) { double *last = x; return *last * *last; }
int main(void) {
  double x = 3, dx = 1;
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, &x, &dx));
  return 0;
}
