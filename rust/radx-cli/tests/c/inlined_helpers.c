/* Reverse mode through calls of small helpers, which RadX inlines before differentiating
 * (one sweep for caller and callee, no augmented forward and tape per call), and of a
 * recursive one, which it must not inline (it keeps a derivative of its own). */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

NOINLINE static double square(double v) { return v * v; }

NOINLINE static double weighted_norm2(const double *a, const double *w, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += w[i] * square(a[i]);
  return s;
}

NOINLINE static double power(double b, int e) { /* recursive: not inlined */
  if (e == 0) return 1.0;
  double h = power(b, e / 2);
  return e % 2 ? h * h * b : h * h;
}

NOINLINE double objective(const double *x, const double *w, int n) {
  double s = 0;
  for (int k = 0; k < 3; k++) s += sin(weighted_norm2(x, w, n) * (k + 1));
  return s + power(x[0], 5);
}

int main(void) {
  enum { N = 6 };
  double x[N], w[N], dx[N] = {0};
  for (int i = 0; i < N; i++) x[i] = 0.3 + 0.1 * i, w[i] = 1.0 / (1 + i);
  __enzyme_autodiff((void *)objective, enzyme_dup, x, dx, enzyme_const, w, enzyme_const, N);
  double q = 0;
  for (int i = 0; i < N; i++) q += w[i] * x[i] * x[i];
  double dq = 0;
  for (int k = 0; k < 3; k++) dq += cos(q * (k + 1)) * (k + 1);
  for (int i = 0; i < N; i++) {
    double want = dq * 2 * w[i] * x[i] + (i == 0 ? 5 * pow(x[0], 4) : 0);
    CHECK_CLOSE(dx[i], want, 1e-12);
  }
  return RADX_FINISH();
}
