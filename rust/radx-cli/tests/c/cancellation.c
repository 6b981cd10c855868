/* Reverse-mode accumulation order. An instruction that uses one value twice (x - x, a
 * helper called as diff(x, x)) must sum its contributions to that value before adding
 * them to its running adjoint: added one by one, (1e-20 + 1) - 1 leaves 0, and the
 * gradient loses a term forward mode keeps exactly (ẋ - ẋ = 0). */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);
double __enzyme_autodiff_d(void *, ...);

/* restrict: one load of x[0], so one adjoint takes all three contributions. */
static void small_then_cancelling(const double *restrict x, double *restrict out) {
  double a = x[0];
  out[0] = a - a;
  out[1] = 1e-20 * a;
}

static void cancelling_then_small(const double *restrict x, double *restrict out) {
  double a = x[0];
  out[0] = 1e-20 * a;
  out[1] = a - a;
}

NOINLINE static double diff(double a, double b) { return a - b; }

static void cancelling_call(const double *restrict x, double *restrict out) {
  double a = x[0];
  out[0] = diff(a, a) * 2.0;
  out[1] = 3e-20 * a;
}

/* A scalar function: the reverse sweep meets 1e-20 * a before a - a. */
static double scalar(double a) { return (a - a) + 1e-20 * a; }

/* The adjoint is 1e-20-sized, below CHECK's absolute floor: compare relative errors. */
#define CHECK_BOTH_MODES(f, expected)                                                \
  do {                                                                             \
    double x[1] = {0.7}, dx[1] = {0}, out[2], dout[2] = {1.0, 1.0};                \
    __enzyme_autodiff((void *)f, enzyme_dup, x, dx, enzyme_dupnoneed, out, dout); \
    CHECK((dx[0] - (expected)) / (expected), 0.0);                                  \
    double t[1] = {1.0}, tout[2] = {0};                                            \
    __enzyme_fwddiff_void((void *)f, enzyme_dup, x, t, enzyme_dupnoneed, out, tout); \
    CHECK((tout[0] + tout[1] - (expected)) / (expected), 0.0);                      \
  } while (0)

int main(void) {
  CHECK_BOTH_MODES(small_then_cancelling, 1e-20);
  CHECK_BOTH_MODES(cancelling_then_small, 1e-20);
  CHECK_BOTH_MODES(cancelling_call, 3e-20);
  double a = 0.7;
  CHECK((__enzyme_autodiff_d((void *)scalar, enzyme_out, a) - 1e-20) / 1e-20, 0.0);
  CHECK((__enzyme_fwddiff((void *)scalar, enzyme_dup, a, 1.0) - 1e-20) / 1e-20, 0.0);
  return RADX_FINISH();
}
