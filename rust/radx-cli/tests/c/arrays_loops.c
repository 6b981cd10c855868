/* Arrays and loops: reductions, in-place updates, nested loops, outputs through shadow
 * pointers, loops whose trip count is a run-time integer, local arrays. */
#include "radx_fwd.h"

#define N 6

static double sumsq(const double *x, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

/* Horner evaluation of a polynomial with active coefficients and active x. */
static double horner(const double *c, int n, double x) {
  double r = 0.0;
  for (int i = n - 1; i >= 0; i--) r = r * x + c[i];
  return r;
}

/* y = A x, A row-major m-by-n, everything active. */
static void matvec(const double *a, const double *x, double *y, int m, int n) {
  for (int i = 0; i < m; i++) {
    double s = 0.0;
    for (int j = 0; j < n; j++) s += a[i * n + j] * x[j];
    y[i] = s;
  }
}

/* In-place prefix products with a local array. */
static double prefix(double *x, int n) {
  double tmp[N];
  tmp[0] = x[0];
  for (int i = 1; i < n; i++) tmp[i] = tmp[i - 1] * x[i];
  for (int i = 0; i < n; i++) x[i] = tmp[i];
  return tmp[n - 1];
}

/* out[i] = in[i] / |in|: normalisation hoisted out of the loop at -O2. */
static void normalize(const double *in, double *out, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] / sqrt(sumsq(in, n));
}

/* A while loop with a data-dependent trip count (inactive: it depends on the
 * integer part) and a running product. */
static double iterate(double x, int k) {
  double y = x;
  int i = 0;
  while (i < k) {
    y = 0.5 * (y + x / y); /* Newton for sqrt(x) */
    i++;
  }
  return y;
}

int main(void) {
  double x[N] = {0.5, -1.0, 2.0, 1.5, -0.25, 3.0}, dx[N];
  for (int k = 0; k < N; k++) {
    memset(dx, 0, sizeof dx);
    dx[k] = 1.0;
    CHECK(__enzyme_fwddiff((void *)sumsq, enzyme_dup, x, dx, enzyme_const, N), 2 * x[k]);
    CHECK(__enzyme_fwddiff((void *)horner, enzyme_dup, x, dx, enzyme_const, N, enzyme_dup, 0.7, 0.0), pow(0.7, k));
  }
  /* d horner / dx = sum i c_i x^(i-1) */
  double c0[N] = {0}, d = 0.0;
  for (int i = 1; i < N; i++) d += i * x[i] * pow(0.7, i - 1);
  CHECK(__enzyme_fwddiff((void *)horner, enzyme_dup, x, c0, enzyme_const, N, enzyme_dup, 0.7, 1.0), d);

  double a[6] = {1, 2, 3, 4, 5, 6}, da[6] = {0, 0, 0, 0, 0, 1};
  double v[3] = {1.0, -1.0, 2.0}, dv[3] = {1.0, 0.0, 0.0}, y[2], dy[2] = {0, 0};
  __enzyme_fwddiff_void((void *)matvec, a, da, v, dv, y, dy, enzyme_const, 2, enzyme_const, 3);
  CHECK(y[0], 1 - 2 + 6);
  CHECK(y[1], 4 - 5 + 12);
  CHECK(dy[0], 1.0);       /* a[0][0] dv[0] */
  CHECK(dy[1], 4.0 + 2.0); /* a[1][0] dv[0] + da[1][2] v[2] */

  for (int k = 0; k < N; k++) {
    double w[N], dw[N] = {0};
    memcpy(w, x, sizeof w);
    dw[k] = 1.0;
    double p = 1.0;
    for (int i = 0; i < N; i++) p *= x[i];
    CHECK(__enzyme_fwddiff((void *)prefix, enzyme_dup, w, dw, enzyme_const, N), p / x[k]);
    /* dw[i] now holds d(prefix_i)/dx_k */
    double pi = 1.0;
    for (int i = 0; i < N; i++) {
      pi *= x[i];
      CHECK(dw[i], i >= k ? pi / x[k] : 0.0);
      CHECK(w[i], pi);
    }
  }

  double out[N], dout[N];
  double nrm = sqrt(sumsq(x, N));
  for (int k = 0; k < N; k++) {
    memset(dx, 0, sizeof dx);
    memset(dout, 0, sizeof dout);
    dx[k] = 1.0;
    __enzyme_fwddiff_void((void *)normalize, enzyme_dup, x, dx, enzyme_dup, out, dout, enzyme_const, N);
    for (int i = 0; i < N; i++) CHECK(dout[i], (i == k ? 1.0 / nrm : 0.0) - x[i] * x[k] / (nrm * nrm * nrm));
  }

  for (int k = 1; k < 8; k++) {
    /* k Newton steps for sqrt(2) from 2: the derivative follows the recurrence. */
    double yv = 2.0, dyv = 1.0;
    for (int i = 0; i < k; i++) {
      double ny = 0.5 * (yv + 2.0 / yv);
      dyv = 0.5 * (dyv + 1.0 / yv - 2.0 * dyv / (yv * yv));
      yv = ny;
    }
    CHECK(__enzyme_fwddiff((void *)iterate, enzyme_dup, 2.0, 1.0, enzyme_const, k), dyv);
  }
  CHECK(__enzyme_fwddiff((void *)iterate, enzyme_dup, 2.0, 1.0, enzyme_const, 40), 0.5 / sqrt(2.0));
  return RADX_FINISH();
}
