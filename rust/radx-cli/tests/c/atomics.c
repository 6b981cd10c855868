/* Atomic exchanges of doubles and floats: clang exchanges their bits as integers, and the
 * derivative must follow the value into the slot and the old value out of it. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);
double __enzyme_autodiff_out(void *, ...);

static void exchange(double *slot, const double *x, double *old) {
  double v = *x * *x;
  __atomic_exchange(slot, &v, old, __ATOMIC_SEQ_CST);
}

static void exchange_f(float *slot, const float *x, float *old) {
  float v = 3.0f * *x;
  __atomic_exchange(slot, &v, old, __ATOMIC_RELAXED);
}

/* The old value only: the slot's previous content, scaled. */
static double swap_out(double *slot, double y) {
  double v = y, old;
  __atomic_exchange(slot, &v, &old, __ATOMIC_SEQ_CST);
  return 2.0 * old + y;
}

/* fetch-add's old value: r = *p; *p = r + v*v. */
static double fetch_add(double *p, double v) {
  double r = __atomic_fetch_add(p, v * v, __ATOMIC_SEQ_CST);
  return 3.0 * r;
}

int main(void) {
  /* Reverse: seeds 2 on the slot's new value, 5 on the old value. */
  double slot = 1, dslot = 2, x = 3, dx = 0, old = 0, dold = 5;
  __enzyme_autodiff((void *)exchange, enzyme_dup, &slot, &dslot, enzyme_dup, &x, &dx, enzyme_dup, &old, &dold);
  CHECK(slot, 9);
  CHECK(old, 1);
  CHECK(dx, 2 * 2 * 3); /* d(x*x)/dx times the slot's seed */
  CHECK(dslot, 5);      /* the slot's old content went out as `old` */
  CHECK(dold, 0);       /* `old` was overwritten */

  float fs = 1, dfs = 1, fx = 2, dfx = 0, fo = 0, dfo = 0;
  __enzyme_autodiff((void *)exchange_f, enzyme_dup, &fs, &dfs, enzyme_dup, &fx, &dfx, enzyme_dup, &fo, &dfo);
  CHECKF(dfx, 3);
  CHECKF(dfs, 0);

  double s2 = 4, ds2 = 0;
  double dy = __enzyme_autodiff_out((void *)swap_out, enzyme_dup, &s2, &ds2, enzyme_out, 1.5);
  CHECK(ds2, 2); /* d(2*old)/d(slot's content) */
  CHECK(dy, 1);  /* y went into the slot, whose seed is 0, and into the result once */

  double p = 2, dp = 1;
  double dv = __enzyme_autodiff_out((void *)fetch_add, enzyme_dup, &p, &dp, enzyme_out, 1.5);
  CHECK(p, 2 + 1.5 * 1.5);
  CHECK(dp, 1 + 3); /* the new content's seed passes through, the old value's 3 joins it */
  CHECK(dv, 2 * 1.5); /* d(v*v) times the new content's seed */

  /* Forward: tangent 1 on x, 0.5 on the slot's content. */
  double s = 1, ts = 0.5, y = 3, ty = 1, o = 0, to = 0;
  __enzyme_fwddiff_void((void *)exchange, enzyme_dup, &s, &ts, enzyme_dup, &y, &ty, enzyme_dup, &o, &to);
  CHECK(ts, 2 * 3);
  CHECK(to, 0.5);
  double s3 = 4, ts3 = 1;
  double t = __enzyme_fwddiff((void *)swap_out, enzyme_dup, &s3, &ts3, enzyme_dup, 1.5, 1.0);
  CHECK(t, 2 * 1 + 1);
  double q = 2, tq = 0.5;
  double tr = __enzyme_fwddiff((void *)fetch_add, enzyme_dup, &q, &tq, enzyme_dup, 1.5, 1.0);
  CHECK(tr, 3 * 0.5);
  CHECK(tq, 0.5 + 2 * 1.5);
  return RADX_FINISH();
}
