#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwdsplit(void *, ...);
double cube(double x) { return x * x * x; }
int main(void) {
  printf("%g\n", __enzyme_fwdsplit((void *)cube, enzyme_dup, 2.0, 1.0, (void *)0));
  return 0;
}
