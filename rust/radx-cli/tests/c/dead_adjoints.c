/* Dead adjoints: active values whose adjoint is zero on every run because they reach no
 * output. Here a norm decides a branch and a residual is only reported through an
 * integer count; their adjoints (and the square root's result the reverse would cache
 * for them) are skipped, while the branch decisions are still honoured. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

enum { N = 9 };

NOINLINE double branchy(const double *x, int n, int *big) {
  double s = 0;
  *big = 0;
  for (int i = 0; i < n; i++) {
    double r = sqrt(x[i] * x[i] + 1.0); /* only compared */
    if (r > 1.5) {
      s += x[i] * x[i];
      *big += 1;
    } else {
      s += 3 * x[i];
    }
    double resid = exp(x[i]) - 2.0;          /* only converted to an integer */
    *big += (int)(resid > 0 ? resid : 0);
  }
  return s;
}

int main(void) {
  double x[N], dx[N] = {0};
  int big = 0;
  for (int i = 0; i < N; i++) x[i] = 0.4 * i - 1.6;
  __enzyme_autodiff((void *)branchy, enzyme_dup, x, dx, enzyme_const, N, enzyme_const, &big);
  int want_big = 0;
  for (int i = 0; i < N; i++) {
    double r = sqrt(x[i] * x[i] + 1.0), resid = exp(x[i]) - 2.0;
    CHECK(dx[i], r > 1.5 ? 2 * x[i] : 3.0);
    want_big += (r > 1.5) + (int)(resid > 0 ? resid : 0);
  }
  CHECK(big, want_big);
  return RADX_FINISH();
}
