/* Mutable globals written by the differentiated code get shadow globals: in forward mode
 * they carry tangents, in reverse mode adjoints; each request starts them at zero, so
 * repeated calls give the same derivative. */
#include "radx_fwd.h"

double __enzyme_autodiff(void *, ...);

static double cache, hist[3];

static void remember(double x) {
  cache = x * x;
  hist[1] = sin(x);
}

static double f(double x) {
  remember(x);
  return cache * hist[1] + cache;
}

static double accumulate(const double *x, int n) {
  cache = 0.0;
  for (int i = 0; i < n; i++) cache += x[i] * x[i];
  return cache * cache;
}

int main(void) {
  for (int k = 0; k < 3; k++) {
    double x = 0.4 + k, want = 2 * x * sin(x) + x * x * cos(x) + 2 * x;
    CHECK_CLOSE(__enzyme_autodiff((void *)f, x), want, 1e-12);
    CHECK_CLOSE(__enzyme_fwddiff((void *)f, x, 1.0), want, 1e-12);
  }
  double x[3] = {0.5, -1.0, 2.0}, dx[3] = {0}, s = 0.25 + 1.0 + 4.0;
  for (int rep = 0; rep < 2; rep++) {
    for (int i = 0; i < 3; i++) dx[i] = 0;
    __enzyme_autodiff((void *)accumulate, enzyme_dup, x, dx, enzyme_const, 3);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(dx[i], 4 * s * x[i], 1e-12);
  }
  return RADX_FINISH();
}
