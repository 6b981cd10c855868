/* BLAS level 1 through cblas (OpenBLAS): ddot, daxpy, dscal, dnrm2 and sdot, snrm2 inside
 * differentiated code, in reverse and forward mode, with strides and constant vectors.
 * Gradients are checked against analytic values and central finite differences, and
 * forward mode against reverse mode. */
#include <cblas.h>
#include "radx_fwd.h"

double __enzyme_autodiff(void *, ...);

enum { N = 5 };

static double dot_strided(const double *x, const double *y) { return cblas_ddot(N, x, 2, y, 1); }

/* y += a x, then |y|^2: the axpy's adjoints for a, x and y. */
static double axpy_energy(double a, const double *x, const double *y0) {
  double y[N];
  for (int i = 0; i < N; i++) y[i] = y0[i];
  cblas_daxpy(N, a, x, 1, y, 1);
  return cblas_ddot(N, y, 1, y, 1);
}

/* |a x| = |a| |x|, through dscal and dnrm2. */
static double scaled_norm(double a, const double *x0) {
  double x[N];
  for (int i = 0; i < N; i++) x[i] = x0[i];
  cblas_dscal(N, a, x, 1);
  return cblas_dnrm2(N, x, 1);
}

static double dot_plus_norm(const double *x, const double *y) { return cblas_ddot(3, x, 1, y, 1) + cblas_dnrm2(3, x, 1); }

static float float_mix(const float *x, const float *y) { return cblas_sdot(N, x, 1, y, 1) + cblas_snrm2(N, x, 1); }

static double fd(double (*f)(double, const double *, const double *), double a, const double *x, const double *y, double *v, int i) {
  double h = 1e-6, keep = v[i];
  v[i] = keep + h;
  double up = f(a, x, y);
  v[i] = keep - h;
  double down = f(a, x, y);
  v[i] = keep;
  return (up - down) / (2 * h);
}

int main(void) {
  double x[2 * N], y[N], dx[2 * N] = {0}, dy[N] = {0};
  for (int i = 0; i < 2 * N; i++) x[i] = 0.3 * i - 1.1;
  for (int i = 0; i < N; i++) y[i] = 0.7 - 0.2 * i;

  /* ddot with a stride: d/dx[2i] = y[i], d/dy[i] = x[2i]; the skipped entries get 0 */
  __enzyme_autodiff((void *)dot_strided, enzyme_dup, x, dx, enzyme_dup, y, dy);
  for (int i = 0; i < N; i++) {
    CHECK(dx[2 * i], y[i]);
    CHECK(dx[2 * i + 1], 0);
    CHECK(dy[i], x[2 * i]);
  }
  /* a constant x: only y's adjoint */
  double dy2[N] = {0};
  __enzyme_autodiff((void *)dot_strided, enzyme_const, x, enzyme_dup, y, dy2);
  for (int i = 0; i < N; i++) CHECK(dy2[i], x[2 * i]);
  /* forward mode: the directional derivative along (tx, ty) */
  double tx[2 * N], ty[N], expected = 0;
  for (int i = 0; i < 2 * N; i++) tx[i] = 0.1 * (i % 3) - 0.05;
  for (int i = 0; i < N; i++) ty[i] = 0.2 - 0.03 * i;
  for (int i = 0; i < N; i++) expected += tx[2 * i] * y[i] + x[2 * i] * ty[i];
  CHECK(__enzyme_fwddiff((void *)dot_strided, enzyme_dup, x, tx, enzyme_dup, y, ty), expected);

  /* daxpy: analytic and finite differences */
  double a = 0.8, g[N] = {0}, gx[N] = {0}, gy[N] = {0};
  double ga = __enzyme_autodiff((void *)axpy_energy, a, enzyme_dup, x, gx, enzyme_dup, y, gy);
  double expected_a = 0;
  for (int i = 0; i < N; i++) {
    double yi = y[i] + a * x[i];
    expected_a += 2 * yi * x[i];
    CHECK(gx[i], 2 * yi * a);
    CHECK(gy[i], 2 * yi);
    g[i] = fd(axpy_energy, a, x, y, x, i);
    CHECK_CLOSE(gx[i], g[i], 1e-6);
  }
  CHECK(ga, expected_a);
  double h = 1e-6;
  CHECK_CLOSE(ga, (axpy_energy(a + h, x, y) - axpy_energy(a - h, x, y)) / (2 * h), 1e-6);
  /* forward mode of daxpy against reverse: <grad, t> */
  double ta = 0.3, along = ga * ta;
  for (int i = 0; i < N; i++) along += gx[i] * tx[i] + gy[i] * ty[i];
  CHECK(__enzyme_fwddiff((void *)axpy_energy, a, ta, enzyme_dup, x, tx, enzyme_dup, y, ty), along);

  /* dscal and dnrm2: d|a x|/da = sign(a)|x|, d/dx = |a| x / |x| */
  double nx = 0, gs[N] = {0};
  for (int i = 0; i < N; i++) nx += x[i] * x[i];
  nx = sqrt(nx);
  for (double s = -1.5; s <= 1.5; s += 3.0) {
    for (int i = 0; i < N; i++) gs[i] = 0;
    double gsa = __enzyme_autodiff((void *)scaled_norm, s, enzyme_dup, x, gs);
    CHECK(gsa, (s > 0 ? 1 : -1) * nx);
    for (int i = 0; i < N; i++) CHECK(gs[i], fabs(s) * x[i] / nx);
    double t = __enzyme_fwddiff((void *)scaled_norm, s, 1.0, enzyme_const, x);
    CHECK(t, (s > 0 ? 1 : -1) * nx);
  }

  /* single precision */
  float fx[N], fy[N], dfx[N] = {0}, dfy[N] = {0};
  for (int i = 0; i < N; i++) {
    fx[i] = 0.5f * i - 1.0f;
    fy[i] = 1.0f - 0.25f * i;
  }
  float fn = cblas_snrm2(N, fx, 1);
  __enzyme_autodiff((void *)float_mix, enzyme_dup, fx, dfx, enzyme_dup, fy, dfy);
  for (int i = 0; i < N; i++) {
    CHECKF(dfx[i], fy[i] + fx[i] / fn);
    CHECKF(dfy[i], fx[i]);
  }

  /* forward mode, two tangents at once (enzyme_width) */
  double wx[3] = {1, 2, 3}, wy[3] = {4, 5, 6}, t1[3] = {1, 0, 0}, t2[3] = {0, 1, 0}, zero[3] = {0, 0, 0};
  radx_d2 w = __enzyme_fwddiff_d2((void *)dot_plus_norm, enzyme_width, 2, enzyme_dup, wx, t1, t2, enzyme_dup, wy, zero, zero);
  CHECK(w.d0, 4 + 1 / sqrt(14.0));
  CHECK(w.d1, 5 + 2 / sqrt(14.0));
  return RADX_FINISH();
}
