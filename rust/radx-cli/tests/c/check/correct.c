#include <math.h>
#include <stdio.h>
extern int enzyme_dup, enzyme_const, enzyme_out;
double __enzyme_autodiff(void *, ...);
double __enzyme_fwddiff(void *, ...);
static double energy(const double *x, int n, double k) {
  double e = 0;
  for (int i = 0; i + 1 < n; i++) { double d = x[i + 1] - x[i]; e += k * d * d + sin(x[i]) * exp(-d); }
  return e;
}
static void scale(double *v, int n, double a) { for (int i = 0; i < n; i++) v[i] = v[i] * a * a + log1p(v[i] * v[i]); }
int main(void) {
  double x[5] = {0.1, 0.4, -0.3, 0.9, 1.2}, dx[5] = {0};
  double dk = __enzyme_autodiff((void *)energy, enzyme_dup, x, dx, enzyme_const, 5, enzyme_out, 2.0);
  double t[5] = {1, 0, 0, 0, 0};
  double de = __enzyme_fwddiff((void *)energy, enzyme_dup, x, t, enzyme_const, 5, enzyme_const, 2.0);
  double v[3] = {0.5, -1.0, 2.0}, sv[3] = {1, 1, 1};
  __enzyme_autodiff((void *)scale, enzyme_dup, v, sv, enzyme_const, 3, enzyme_const, 1.5);
  printf("%g %g %g %g\n", dk, de, dx[0], sv[0]);
  return 0;
}
