/* Chains of libm calls on scalars, several active arguments, enzyme_const, default
 * activity (no markers), and enzyme_dupnoneed. */
#include "radx_fwd.h"

static double f1(double x) { return sin(exp(x)) * log(1.0 + x * x) / sqrt(x + 2.0); }
static double df1(double x) {
  double a = sin(exp(x)), da = cos(exp(x)) * exp(x);
  double b = log(1.0 + x * x), db = 2.0 * x / (1.0 + x * x);
  double c = sqrt(x + 2.0), dc = 0.5 / c;
  return (da * b + a * db) / c - a * b * dc / (c * c);
}

static double f2(double x, double y) {
  return pow(x, 3.5) * atan2(y, x) + tanh(x * y) - erf(y) + cbrt(x + y) + hypot(x, y);
}
static void df2(double x, double y, double *dx, double *dy) {
  double r2 = x * x + y * y, h = sqrt(r2);
  double t = tanh(x * y), s = 1.0 - t * t;
  double cb = cbrt(x + y), dcb = 1.0 / (3.0 * cb * cb);
  double e = 2.0 / sqrt(M_PI) * exp(-y * y);
  *dx = 3.5 * pow(x, 2.5) * atan2(y, x) + pow(x, 3.5) * (-y / r2) + s * y + dcb + x / h;
  *dy = pow(x, 3.5) * (x / r2) + s * x - e + dcb + y / h;
}

/* A bit of everything: log1p, expm1, fabs, fmax/fmin, exp2, log2, log10, asinh. */
static double f3(double x, double k) {
  double a = log1p(x * x) + expm1(-x);
  double b = fmax(fabs(x), 0.25) * fmin(x, k);
  return a + b + exp2(x) - log2(x + 3.0) + log10(k * x + 4.0) + asinh(x);
}
static double df3_dx(double x, double k) {
  double d = 2.0 * x / (1.0 + x * x) - exp(-x);
  double ax = fabs(x), m = ax > 0.25 ? ax : 0.25, dm = ax > 0.25 ? (x > 0 ? 1.0 : -1.0) : 0.0;
  double mn = x < k ? x : k, dmn = x < k ? 1.0 : 0.0;
  d += dm * mn + m * dmn;
  return d + exp2(x) * M_LN2 - 1.0 / ((x + 3.0) * M_LN2) + k / ((k * x + 4.0) * M_LN10) + 1.0 / sqrt(x * x + 1.0);
}

/* dupnoneed: the tangent of the output pointer is needed, the primal output is not. */
static void sq_out(const double *x, double *out) { *out = sin(*x) * *x; }

int main(void) {
  static const double xs[] = {-0.7, 0.3, 1.1, 2.5};
  for (int i = 0; i < 4; i++) {
    double x = xs[i];
    CHECK(__enzyme_fwddiff((void *)f1, enzyme_dup, x, 1.0), df1(x));
    CHECK(__enzyme_fwddiff((void *)f1, enzyme_dup, x, 2.5), 2.5 * df1(x));
    /* default activity: a double argument takes a tangent */
    CHECK(__enzyme_fwddiff((void *)f1, x, 1.0), df1(x));
  }
  static const double pts[][2] = {{0.5, 1.5}, {1.2, -0.4}, {2.0, 3.0}};
  for (int i = 0; i < 3; i++) {
    double x = pts[i][0], y = pts[i][1], dx, dy;
    df2(x, y, &dx, &dy);
    CHECK(__enzyme_fwddiff((void *)f2, enzyme_dup, x, 1.0, enzyme_dup, y, 0.0), dx);
    CHECK(__enzyme_fwddiff((void *)f2, enzyme_dup, x, 0.0, enzyme_dup, y, 1.0), dy);
    CHECK(__enzyme_fwddiff((void *)f2, enzyme_dup, x, 0.5, enzyme_dup, y, -2.0), 0.5 * dx - 2.0 * dy);
    CHECK(__enzyme_fwddiff((void *)f2, enzyme_const, x, enzyme_dup, y, 1.0), dy);
    CHECK(__enzyme_fwddiff((void *)f2, enzyme_dup, x, 1.0, enzyme_const, y), dx);
  }
  static const double ks[] = {-0.5, 0.1, 0.9, 3.0};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      CHECK(__enzyme_fwddiff((void *)f3, enzyme_dup, xs[j] * 0.8, 1.0, enzyme_const, ks[i]), df3_dx(xs[j] * 0.8, ks[i]));
  for (int i = 0; i < 4; i++) {
    double x = xs[i], dx = 1.0, out = 0.0, dout = 0.0;
    __enzyme_fwddiff_void((void *)sq_out, enzyme_dup, &x, &dx, enzyme_dupnoneed, &out, &dout);
    CHECK(dout, cos(x) * x + sin(x));
  }
  return RADX_FINISH();
}
