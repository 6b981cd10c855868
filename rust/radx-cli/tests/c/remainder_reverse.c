/* A loop clang vectorizes with a scalar remainder, y = q .* x, followed by a sum of squares.
 * The reverse of the remainder keeps the vectorizer's "already vectorized" mark
 * (reverse/sweep.rs in radx-core), so LLVM does not vectorize it again; the gradient must
 * be the same for every length, remainder or not. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

NOINLINE static double weighted_squares(int n, const double *restrict q, const double *restrict x, double *restrict y) {
  for (int i = 0; i < n; i++) y[i] = q[i] * x[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += y[i] * y[i];
  return s;
}

static void check(int n) {
  double q[40], x[40], y[40], dq[40] = {0}, dx[40] = {0}, dy[40] = {0};
  for (int i = 0; i < n; i++) {
    q[i] = 0.5 + 0.1 * ((i * 5) % 7);
    x[i] = 0.2 * ((i % 4) - 1.5);
  }
  __enzyme_autodiff((void *)weighted_squares, enzyme_const, n, enzyme_dup, q, dq, enzyme_dup, x, dx, enzyme_dup, y, dy);
  /* s = sum (q x)^2: ds/dq = 2 q x^2, ds/dx = 2 q^2 x */
  for (int i = 0; i < n; i++) {
    CHECK(dq[i], 2 * q[i] * x[i] * x[i]);
    CHECK(dx[i], 2 * q[i] * q[i] * x[i]);
  }
}

int main(void) {
  for (int n = 1; n <= 13; n++) check(n);
  check(37);
  return RADX_FINISH();
}
