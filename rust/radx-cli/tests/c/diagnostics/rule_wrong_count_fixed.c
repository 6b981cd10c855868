#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double blackbox(double x);
double blackbox_fwd(double x, double dx) { return 3 * x * x * dx; }
/* A forward registration lists the function and its rule: two entries. */
void *__enzyme_register_derivative_blackbox[2] = {(void *)blackbox, (void *)blackbox_fwd};
double f(double x) { return blackbox(x) + x; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0));
  return 0;
}
double blackbox(double x) { return x * x * x; }
