#include <math.h>
#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_const, enzyme_out;
typedef struct { double dx, dy; } d2;
d2 __enzyme_autodiff(void *, ...);
double __enzyme_fwddiff(void *, ...);
__attribute__((noinline)) double cube(double x) { return x * x * x; }
typedef struct { double p, t; } pt;
pt cube_fwd(double x, double dx) { pt r = {cube(x), 3 * x * x * dx}; return r; }
typedef struct { void *tape; double p; } aug;
aug cube_aug(double x) { double *t = malloc(sizeof(double)); *t = x; aug a = {t, cube(x)}; return a; }
double cube_rev(double x, double seed, void *tape) { double xs = *(double *)tape; free(tape); return 3 * xs * seed; } /* wrong: 3 xs^2 */
void *__enzyme_register_derivative_cube[2] = {(void *)cube, (void *)cube_fwd};
void *__enzyme_register_gradient_cube[3] = {(void *)cube, (void *)cube_aug, (void *)cube_rev};
double f(double x, double y) {
  double a = sin(x) * y;
  double b = cube(a + 1.0);
  return b * y + x;
}
int main(void) {
  double g = __enzyme_fwddiff((void *)f, 0.7, 1.0, 1.3, 0.0);
  d2 r = __enzyme_autodiff((void *)f, enzyme_out, 0.7, enzyme_out, 1.3);
  printf("%g %g\n", g, r.dx);
  return 0;
}
