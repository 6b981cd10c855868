#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double cube(double x) { return x * x * x; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)cube, enzyme_dup, 2.0, 1.0));
  return 0;
}
