#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double mul(double x, double y) { return x * y; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)mul, enzyme_dup, 2.0, 1.0, enzyme_dup, 3.0, 0.0));
  return 0;
}
