#include <stdio.h>
extern int enzyme_dup;
typedef struct { double a, b, c; } d3;
d3 __enzyme_fwddiff_d3(void *, ...);
double cube(double x) { return x * x * x; }
int main(void) {
  d3 r = __enzyme_fwddiff_d3((void *)cube, enzyme_dup, 2.0, 1.0);
  printf("%g\n", r.a);
  return 0;
}
