/* Reductions under -ffast-math: the loop vectorizer turns these loops into
 * llvm.vector.reduce.{fadd,fmul,fmax,fmin} of the vector accumulators, which radx spells
 * out lane by lane before differentiating (rules/reductions.rs in radx-core). Built with
 * -ffast-math in every configuration; n = 37 leaves a remainder after the vector loop. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

#define N 37

NOINLINE static double sum_squares(const double *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

NOINLINE static double product(const double *x, int n) {
  double p = 1;
  for (int i = 0; i < n; i++) p *= x[i];
  return p;
}

NOINLINE static double largest(const double *x, int n) {
  double m = x[0];
  for (int i = 1; i < n; i++) m = fmax(m, x[i] * x[i]);
  return m;
}

NOINLINE static double smallest(const double *x, int n) {
  double m = x[0];
  for (int i = 1; i < n; i++)
    if (x[i] < m) m = x[i];
  return m;
}

/* All four in one function, as a user's objective would mix them. */
static double objective(const double *x, int n) {
  return sum_squares(x, n) + 0.5 * product(x, n) + 3 * largest(x, n) - 2 * smallest(x, n);
}

int main(void) {
  double x[N], dx[N];
  int imax = 0, imin = 0;
  double p = 1, s2 = 0;
  for (int i = 0; i < N; i++) {
    x[i] = 1.0 + 0.01 * ((i * 17) % N) - (i == 23 ? 1.7 : 0.0);
    p *= x[i];
  }
  for (int i = 1; i < N; i++) {
    if (x[i] * x[i] > x[imax] * x[imax] || imax == 0) imax = i;
    if (x[i] < x[imin]) imin = i;
  }
  (void)s2;
  /* d/dx_k: 2 x_k + 0.5 p / x_k + 3 (k == imax) 2 x_k - 2 (k == imin) */
  memset(dx, 0, sizeof dx);
  __enzyme_autodiff((void *)objective, enzyme_dup, x, dx, enzyme_const, N);
  for (int k = 0; k < N; k++) {
    double expected = 2 * x[k] + 0.5 * p / x[k] + (k == imax ? 6 * x[k] : 0) - (k == imin ? 2 : 0);
    CHECK(dx[k], expected);
  }
  for (int k = 0; k < N; k += 6) {
    double t[N] = {0};
    t[k] = 1.0;
    double expected = 2 * x[k] + 0.5 * p / x[k] + (k == imax ? 6 * x[k] : 0) - (k == imin ? 2 : 0);
    CHECK(__enzyme_fwddiff((void *)objective, enzyme_dup, x, t, enzyme_const, N), expected);
  }
  return RADX_FINISH();
}
