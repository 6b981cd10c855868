/* Calls of functions defined in the module: helpers (kept as calls with noinline),
 * recursion, mutual recursion, helpers writing through pointers, one helper called
 * with different activities, and a function pointer resolved at compile time. */
#include "radx_fwd.h"

NOINLINE static double sq(double x) { return x * x; }
NOINLINE static double scaled(double x, double s) { return sq(x) * s + sin(s); }

static double uses_helpers(double x, double y) {
  /* scaled is called with x active and s constant, then both active. */
  return scaled(x, 2.0) + scaled(x, y) + sq(y);
}

/* Recursion: x^n by repeated squaring, n an integer. */
NOINLINE static double rpow(double x, int n) {
  if (n == 0) return 1.0;
  double h = rpow(x, n / 2);
  return (n % 2) ? h * h * x : h * h;
}

/* Mutual recursion: even(x, n) = cos-ish chain. */
NOINLINE static double odd_f(double x, int n);
NOINLINE static double even_f(double x, int n) { return n == 0 ? x : odd_f(sin(x), n - 1); }
NOINLINE static double odd_f(double x, int n) { return n == 0 ? x : even_f(x * 1.5, n - 1); }

/* A helper writing its result through a pointer and returning void. */
NOINLINE static void polar(double r, double t, double *out) {
  out[0] = r * cos(t);
  out[1] = r * sin(t);
}
static double use_polar(double r, double t) {
  double p[2];
  polar(r, t, p);
  return p[0] * p[1];
}

/* A helper whose result is inactive (an integer) although it reads active data. */
NOINLINE static int count_pos(const double *v, int n) {
  int c = 0;
  for (int i = 0; i < n; i++) c += v[i] > 0.0;
  return c;
}
static double weighted(const double *v, int n) {
  int c = count_pos(v, n);
  double s = 0.0;
  for (int i = 0; i < n; i++) s += v[i] * c;
  return s;
}

/* A call through a function pointer (indirect at -O0, resolved at -O2) whose
 * arguments are all inactive: left alone. */
static double apply_const(double x) {
  double (*fp)(double) = sq;
  return x * fp(3.0);
}

/* Deep recursion over an array: sum of products of neighbours. */
NOINLINE static double chain(const double *v, int n) {
  if (n < 2) return 0.0;
  return v[0] * v[1] + chain(v + 1, n - 1);
}

int main(void) {
  double x = 1.3, y = 0.7;
  /* f = 2 x^2 + sin 2 + x^2 y + sin y + y^2 */
  CHECK(__enzyme_fwddiff((void *)uses_helpers, x, 1.0, y, 0.0), 4 * x + 2 * x * y);
  CHECK(__enzyme_fwddiff((void *)uses_helpers, x, 0.0, y, 1.0), x * x + cos(y) + 2 * y);

  for (int n = 0; n < 12; n++) {
    double e = n == 0 ? 0.0 : n * pow(1.1, n - 1);
    CHECK(__enzyme_fwddiff((void *)rpow, 1.1, 1.0, n), e);
  }

  for (int n = 0; n < 7; n++) {
    /* even_f(x, n): alternately x -> sin(x) and x -> 1.5 x; chain rule by hand */
    double v = 0.4, d = 1.0;
    for (int i = 0; i < n; i++) {
      if (i % 2 == 0) {
        d *= cos(v);
        v = sin(v);
      } else {
        d *= 1.5;
        v *= 1.5;
      }
    }
    CHECK(__enzyme_fwddiff((void *)even_f, 0.4, 1.0, n), d);
  }

  double r = 2.0, t = 0.6;
  /* r^2 cos t sin t = r^2 sin(2t) / 2 */
  CHECK(__enzyme_fwddiff((void *)use_polar, r, 1.0, t, 0.0), r * sin(2 * t));
  CHECK(__enzyme_fwddiff((void *)use_polar, r, 0.0, t, 1.0), r * r * cos(2 * t));

  double v[4] = {1.0, -2.0, 3.0, 0.5}, dv[4] = {0, 1.0, 0, 0};
  CHECK(__enzyme_fwddiff((void *)weighted, v, dv, 4), 3.0);

  CHECK(__enzyme_fwddiff((void *)apply_const, 2.0, 1.0), 9.0);

  double w[6] = {1, 2, 3, 4, 5, 6};
  for (int k = 0; k < 6; k++) {
    double dw[6] = {0};
    dw[k] = 1.0;
    double e = (k > 0 ? w[k - 1] : 0.0) + (k < 5 ? w[k + 1] : 0.0);
    CHECK(__enzyme_fwddiff((void *)chain, w, dw, 6), e);
  }
  return RADX_FINISH();
}
