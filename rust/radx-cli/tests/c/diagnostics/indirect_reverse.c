#include <stdio.h>
extern int enzyme_out;
double __enzyme_autodiff(void *, ...);
double cube(double x) { return x * x * x; }
double (*volatile op)(double) = cube;
double f(double x) { return op(x) + 1.0; }
int main(void) {
  printf("%g\n", __enzyme_autodiff((void *)f, enzyme_out, 2.0));
  return 0;
}
