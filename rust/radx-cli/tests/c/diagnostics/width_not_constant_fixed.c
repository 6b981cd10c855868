#include <stdio.h>
extern int enzyme_dup, enzyme_width;
typedef struct { double d0, d1; } d2;
d2 __enzyme_fwddiff_d2(void *, ...);
double cube(double x) { return x * x * x; }
int main(void) {
  d2 t = __enzyme_fwddiff_d2((void *)cube, enzyme_width, 2, enzyme_dup, 2.0, 1.0, 2.0);
  printf("%g %g\n", t.d0, t.d1);
  return 0;
}
