#include <stdio.h>
extern int enzyme_out;
double __enzyme_autodiff(void *, ...);
double mystery(double x) { return x * x * x; }
double f(double x) { return mystery(x * x) + 1.0; }
int main(void) {
  printf("%g\n", __enzyme_autodiff((void *)f, enzyme_out, 2.0));
  return 0;
}
