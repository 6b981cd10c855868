/* Reverse mode through join blocks inside loops. The triangular product out = L x (the
 * shape of ADBench GMM's Q (x - mu)) is vectorized at -O2 into a vector loop and a scalar
 * remainder whose starts are phis of the way in; the clamp and the two-sided branch make
 * diamonds and skipped arms whose phis mix values from paths not taken. The reverse sweep
 * tells which way each join was entered from recomputed branch conditions (joins), and the
 * sign of zero adjoints: adjoints start at -0.0 internally, yet what the caller sees, a
 * returned adjoint nothing reached or a shadow the reverse cleared, is +0.0. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);
double __enzyme_autodiff_out(void *, ...); /* any __enzyme_autodiff* name is the magic call */

enum { N = 11 };

NOINLINE double triangular(const double *l, const double *x, int n) {
  double out[64];
  for (int i = 0; i < n; i++) out[i] = l[i * n + i] * x[i];
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) out[j] += l[j * n + i] * x[i];
  double s = 0;
  for (int i = 0; i < n; i++) {
    double v = out[i];
    if (i % 3 == 0) v = v * v;            /* skipped arm */
    else if (i % 3 == 1) v = sin(v);      /* diamond */
    else v = 0.5 * v + x[i];
    if (v > 1.0) v = 1.0 + log(v);        /* data-dependent: still recorded */
    s += v;
  }
  return s;
}

static double expected_value(const double *l, const double *x, int n, double *dl, double *dx) {
  double out[64], dout[64];
  for (int j = 0; j < n; j++) {
    out[j] = 0;
    for (int i = 0; i <= j; i++) out[j] += l[j * n + i] * x[i];
  }
  double s = 0;
  for (int i = 0; i < n; i++) {
    double v, dv;
    if (i % 3 == 0) v = out[i] * out[i], dv = 2 * out[i];
    else if (i % 3 == 1) v = sin(out[i]), dv = cos(out[i]);
    else v = 0.5 * out[i] + x[i], dv = 0.5;
    double dfinal = 1;
    if (v > 1.0) dfinal = 1 / v, v = 1.0 + log(v);
    s += v;
    dout[i] = dv * dfinal;
    if (i % 3 == 2) dx[i] += dfinal;
  }
  for (int j = 0; j < n; j++)
    for (int i = 0; i <= j; i++) {
      dl[j * n + i] += dout[j] * x[i];
      dx[i] += dout[j] * l[j * n + i];
    }
  return s;
}

/* GMM's shape: a scratch vector refilled for every row, then multiplied by a triangle
 * stored column by column below its diagonal (a running index, not an induction variable,
 * walks it). Its entries are cached; a remainder loop's start is a join phi. */
NOINLINE double rows_through_triangle(const double *l, const double *x, const double *mu, int n, int rows) {
  double *xc = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)n), s = 0;
  for (int r = 0; r < rows; r++) {
    for (int i = 0; i < n; i++) xc[i] = x[r * n + i] - mu[i];
    for (int i = 0; i < n; i++) out[i] = l[i * n + i] * xc[i];
    int li = 0;
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) out[j] += l[n * n + li++] * xc[i];
    for (int i = 0; i < n; i++) s += out[i] * out[i];
  }
  free(xc);
  free(out);
  return s;
}

static void rows_expected(const double *l, const double *x, const double *mu, int n, int rows, double *dl, double *dmu) {
  for (int r = 0; r < rows; r++) {
    double xc[64], out[64];
    for (int i = 0; i < n; i++) xc[i] = x[r * n + i] - mu[i];
    /* the diagonal from l[i * n + i], below it l[n * n + ...] column by column */
    int below[64][64], li = 0;
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) below[j][i] = n * n + li++;
    for (int j = 0; j < n; j++) {
      out[j] = 0;
      for (int i = 0; i <= j; i++) out[j] += l[i == j ? j * n + i : below[j][i]] * xc[i];
    }
    for (int j = 0; j < n; j++)
      for (int i = 0; i <= j; i++) {
        int at = i == j ? j * n + i : below[j][i];
        dl[at] += 2 * out[j] * xc[i];
        dmu[i] -= 2 * out[j] * l[at];
      }
  }
}

NOINLINE double first_only(double a, double b) { return a * a + (b > 0 ? 0.0 : 1.0); }

NOINLINE void square_into(double *out, const double *x) { out[0] = x[0] * x[0]; }

int main(void) {
  double l[N * N + N * N], x[N];
  for (int k = 0; k < 2 * N * N; k++) l[k] = 0.3 * sin(0.37 * k + 0.1);
  for (int i = 0; i < N; i++) x[i] = 0.4 + 0.1 * cos(1.3 * i);
  for (int n = 1; n <= N; n++) {
    double dl[N * N] = {0}, dx[N] = {0}, wl[N * N] = {0}, wx[N] = {0};
    __enzyme_autodiff((void *)triangular, enzyme_dup, l, dl, enzyme_dup, x, dx, enzyme_const, n);
    expected_value(l, x, n, wl, wx);
    for (int k = 0; k < n * n; k++) CHECK_CLOSE(dl[k], wl[k], 1e-12);
    for (int i = 0; i < n; i++) CHECK_CLOSE(dx[i], wx[i], 1e-12);
  }
  enum { R = 3 };
  double xs3[R * N], mu[N];
  for (int k = 0; k < R * N; k++) xs3[k] = cos(0.21 * k);
  for (int i = 0; i < N; i++) mu[i] = 0.1 * i - 0.3;
  for (int n = 1; n <= N; n++) {
    double dl[2 * N * N] = {0}, dmu[N] = {0}, wl[2 * N * N] = {0}, wmu[N] = {0};
    __enzyme_autodiff((void *)rows_through_triangle, enzyme_dup, l, dl, enzyme_const, xs3, enzyme_dup, mu, dmu,
                      enzyme_const, n, enzyme_const, (int)R);
    rows_expected(l, xs3, mu, n, R, wl, wmu);
    for (int k = 0; k < 2 * N * N; k++) CHECK_CLOSE(dl[k], wl[k], 1e-12);
    for (int i = 0; i < n; i++) CHECK_CLOSE(dmu[i], wmu[i], 1e-12);
  }
  /* the adjoint of b receives nothing: +0.0, not -0.0 */
  double db = __enzyme_autodiff_out((void *)first_only, enzyme_const, 3.0, enzyme_out, 2.0);
  CHECK(db, 0.0);
  CHECK(signbit(db) != 0, 0);
  /* the reverse reads out's shadow and clears it: to +0.0, as the caller sees it */
  double out[1], dout[1] = {1}, xs[1] = {3}, dxs[1] = {0};
  __enzyme_autodiff((void *)square_into, enzyme_dup, out, dout, enzyme_dup, xs, dxs);
  CHECK_CLOSE(dxs[0], 6.0, 1e-15);
  CHECK(dout[0], 0.0);
  CHECK(signbit(dout[0]) != 0, 0);
  return RADX_FINISH();
}
