/* A factor of a partial that meets a division by itself (`pow(x, i) / i`: pow's partial
 * i * pow(x, i - 1), the division's 1 / i) cancels where the divisor is provably nonzero
 * (rules/cancel.rs in radx-core); elsewhere the chain rule is emitted as written. Every
 * derivative is checked against its closed form, in forward and in reverse mode. */
#include "radx_fwd.h"

double __enzyme_autodiff(void *, ...);

/* sum_{i=1..n} x^i / i, whose derivative is (1 - x^n) / (1 - x): the counter starts at 1. */
NOINLINE static double series(double x, int n) {
  double s = 0;
  for (int i = 1; i <= n; i++) s += pow(x, i) / i;
  return s;
}

/* A counter that starts where the caller says may be the divisor 0: nothing cancels. */
NOINLINE static double series_from(double x, int first, int n) {
  double s = 0;
  for (int i = first; i <= n; i++) s += pow(x, i) / i;
  return s;
}

/* A constant divisor and pow's constant exponent: d/dx x^3 / 3 = x^2. */
NOINLINE static double cube_third(double x) { return pow(x, 3.0) / 3.0; }

/* The exponent passed in: not known to be nonzero, so the partial keeps its guard. */
NOINLINE static double pow_over(double x, double y) { return pow(x, y) / y; }

/* The power used twice: its adjoint has two contributions. */
NOINLINE static double used_twice(double x, int n) {
  double s = 0;
  for (int i = 1; i <= n; i++) {
    double p = pow(x, i);
    s += p / i + 0.5 * p;
  }
  return s;
}

/* llvm.powi: the partial converts the exponent again (`float(n)`). */
NOINLINE static double powi_series(double x, int n) {
  double s = 0;
  for (int i = 1; i <= n; i++) s += __builtin_powi(x, i) / i;
  return s;
}

int main(void) {
  const double x = 0.93;
  for (int n = 1; n <= 9; n += 4) {
    double exact = (1 - pow(x, n)) / (1 - x);
    CHECK(__enzyme_fwddiff((void *)series, x, 1.0, enzyme_const, n), exact);
    CHECK(__enzyme_autodiff((void *)series, enzyme_out, x, enzyme_const, n), exact);
    CHECK(__enzyme_fwddiff((void *)powi_series, x, 1.0, enzyme_const, n), exact);
    CHECK(__enzyme_autodiff((void *)powi_series, enzyme_out, x, enzyme_const, n), exact);
    CHECK(__enzyme_fwddiff((void *)series_from, x, 1.0, enzyme_const, 1, enzyme_const, n), exact);
    CHECK(__enzyme_autodiff((void *)series_from, enzyme_out, x, enzyme_const, 1, enzyme_const, n), exact);
    double twice = exact;
    for (int i = 1; i <= n; i++) twice += 0.5 * i * pow(x, i - 1);
    CHECK(__enzyme_fwddiff((void *)used_twice, x, 1.0, enzyme_const, n), twice);
    CHECK(__enzyme_autodiff((void *)used_twice, enzyme_out, x, enzyme_const, n), twice);
  }
  CHECK(__enzyme_fwddiff((void *)cube_third, x, 1.0), x * x);
  CHECK(__enzyme_autodiff((void *)cube_third, enzyme_out, x), x * x);
  const double y = 2.5;
  CHECK(__enzyme_fwddiff((void *)pow_over, x, 1.0, enzyme_const, y), pow(x, y - 1));
  CHECK(__enzyme_autodiff((void *)pow_over, enzyme_out, x, enzyme_const, y), pow(x, y - 1));
  return RADX_FINISH();
}
