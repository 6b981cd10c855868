#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
extern double mystery(double); /* only a declaration: no body to differentiate */
double f(double x) { return mystery(x * x) + 1.0; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0));
  return 0;
}
