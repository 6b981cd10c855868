#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
double blackbox(double x); /* x^3, defined in another file */
/* The forward rule must return {primal, tangent} as doubles or the tangent alone. */
float blackbox_fwd(float x, float dx) { return 3 * x * x * dx; }
void *__enzyme_register_derivative_blackbox[2] = {(void *)blackbox, (void *)blackbox_fwd};
double f(double x) { return blackbox(x) + x; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 2.0, 1.0));
  return 0;
}
double blackbox(double x) { return x * x * x; }
