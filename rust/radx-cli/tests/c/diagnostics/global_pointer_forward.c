#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double *last; /* a global without a shadow */
double f(double *x) { last = x; return *last * *last; }
int main(void) {
  double x = 3, dx = 1;
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, &x, &dx));
  return 0;
}
