#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
extern double mystery(double); /* x^3, defined in another file */
double mystery_fwd(double x, double dx) { return 3 * x * x * dx; }
void *__enzyme_register_derivative_mystery[2] = {(void *)mystery, (void *)mystery_fwd};
double f(double x) { return mystery(x * x) + 1.0; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0));
  return 0;
}
double mystery(double x) { return x * x * x; } /* stands in for the other file */
