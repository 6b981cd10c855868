/* Control flow: if/else (phi), ternaries (select), switch, loops with break and
 * continue, and early returns. */
#include "radx_fwd.h"

/* A piecewise function: three branches merged by a phi. */
static double piecewise(double x) {
  double y;
  if (x < -1.0)
    y = -x * x;
  else if (x < 1.0)
    y = sin(x) + 2.0 * x;
  else
    y = exp(x - 1.0) * 3.0;
  return y * x;
}
static double dpiecewise(double x) {
  if (x < -1.0) return -3.0 * x * x;
  if (x < 1.0) return (cos(x) + 2.0) * x + sin(x) + 2.0 * x;
  return 3.0 * exp(x - 1.0) * (x + 1.0);
}

/* Selects: clamps and max/min written as ternaries. */
static double clampmix(double x, double y) {
  double a = x > y ? x : y;
  double b = x < 0.5 ? 0.5 : (x > 2.0 ? 2.0 : x);
  return a * b + (y > 0 ? y * y : -y);
}

/* switch on an integer argument (inactive) picking the formula. */
static double pick(double x, int k) {
  double r;
  switch (k) {
  case 0: r = x * x; break;
  case 1: r = sin(x); break;
  case 2: r = log(x); break;
  case 5: r = 1.0 / x; break;
  default: r = x; break;
  }
  return r + x;
}

/* Loop with continue and break, exits depending on the active value's sign. */
static double scan(const double *v, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) {
    if (v[i] < 0.0) continue;
    if (v[i] > 10.0) break;
    s += v[i] * v[i] * (i + 1);
  }
  return s;
}

/* Early return and a loop-carried phi of two active values. */
static double fib_like(double a, double b, int n) {
  if (n == 0) return a;
  for (int i = 0; i < n; i++) {
    double t = a + b * 0.5;
    a = b;
    b = t;
  }
  return b;
}

int main(void) {
  static const double xs[] = {-2.0, -0.5, 0.3, 1.5, 2.5};
  for (int i = 0; i < 5; i++) CHECK(__enzyme_fwddiff((void *)piecewise, xs[i], 1.0), dpiecewise(xs[i]));

  static const double p[][2] = {{1.0, 2.0}, {3.0, -1.0}, {0.2, 0.1}, {1.5, 1.0}};
  for (int i = 0; i < 4; i++) {
    double x = p[i][0], y = p[i][1];
    double a = x > y ? x : y, b = x < 0.5 ? 0.5 : (x > 2.0 ? 2.0 : x);
    double da_dx = x > y ? 1.0 : 0.0, db_dx = (x >= 0.5 && x <= 2.0) ? 1.0 : 0.0;
    CHECK(__enzyme_fwddiff((void *)clampmix, x, 1.0, y, 0.0), da_dx * b + a * db_dx);
    CHECK(__enzyme_fwddiff((void *)clampmix, x, 0.0, y, 1.0), (1.0 - da_dx) * b + (y > 0 ? 2 * y : -1.0));
  }

  double x = 1.7;
  CHECK(__enzyme_fwddiff((void *)pick, x, 1.0, 0), 2 * x + 1);
  CHECK(__enzyme_fwddiff((void *)pick, x, 1.0, 1), cos(x) + 1);
  CHECK(__enzyme_fwddiff((void *)pick, x, 1.0, 2), 1 / x + 1);
  CHECK(__enzyme_fwddiff((void *)pick, x, 1.0, 5), -1 / (x * x) + 1);
  CHECK(__enzyme_fwddiff((void *)pick, x, 1.0, 3), 2.0);

  double v[6] = {1.0, -2.0, 3.0, 0.5, 20.0, 4.0};
  for (int k = 0; k < 6; k++) {
    double dv[6] = {0};
    dv[k] = 1.0;
    double e = (k < 4 && v[k] >= 0.0) ? 2.0 * v[k] * (k + 1) : 0.0;
    CHECK(__enzyme_fwddiff((void *)scan, v, dv, 6), e);
  }

  /* fib_like is linear: the result is ca * a + cb * b, with (ca, cb) following the
   * same recurrence from the coefficients of a = (1, 0) and b = (0, 1). */
  for (int n = 0; n < 6; n++) {
    double aa = 1.0, ab = 0.0, ba = 0.0, bb = 1.0; /* a = aa a0 + ab b0, b = ba a0 + bb b0 */
    for (int i = 0; i < n; i++) {
      double ta = aa + ba * 0.5, tb = ab + bb * 0.5;
      aa = ba, ab = bb, ba = ta, bb = tb;
    }
    double ca = n == 0 ? aa : ba, cb = n == 0 ? ab : bb;
    CHECK(__enzyme_fwddiff((void *)fib_like, 2.0, 1.0, 3.0, 0.0, n), ca);
    CHECK(__enzyme_fwddiff((void *)fib_like, 2.0, 0.0, 3.0, 1.0, n), cb);
  }
  return RADX_FINISH();
}
