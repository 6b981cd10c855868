/* cblas_dgemv and cblas_sgemv inside differentiated code, in both layouts and both
 * transposes: the gradient with respect to A, x, y, alpha and beta against central finite
 * differences, and forward mode against the reverse (the dot-product test). */
#include <cblas.h>
#include "radx_fwd.h"

double __enzyme_autodiff(void *, ...);
radx_d2 __enzyme_autodiff_d2(void *, ...);

enum { M = 3, N = 4, LDA = 6 };

static int layout, transpose;

/* w · (alpha op(A) x + beta y), op(A) m × n stored with leading dimension LDA */
static double weighted(double alpha, const double *a, const double *x, double beta, const double *y0) {
  int ly = transpose == CblasNoTrans ? M : N;
  double y[N];
  for (int i = 0; i < ly; i++) y[i] = y0[i];
  cblas_dgemv(layout, transpose, M, N, alpha, a, LDA, x, 1, beta, y, 1);
  double s = 0;
  for (int i = 0; i < ly; i++) s += (1.0 + 0.5 * i) * y[i];
  return s;
}

static float weighted_f(const float *a, const float *x) {
  float y[M] = {0};
  cblas_sgemv(CblasRowMajor, CblasNoTrans, M, N, 2.0f, a, LDA, x, 1, 0.0f, y, 1);
  return y[0] + 2 * y[1] + 3 * y[2];
}

static double fd(double alpha, double *a, double *x, double beta, double *y, double *v) {
  double h = 1e-6, keep = *v;
  *v = keep + h;
  double up = weighted(alpha, a, x, beta, y);
  *v = keep - h;
  double down = weighted(alpha, a, x, beta, y);
  *v = keep;
  return (up - down) / (2 * h);
}

int main(void) {
  double a[LDA * N], x[N], y[N];
  for (int i = 0; i < LDA * N; i++) a[i] = 0.1 * ((i * 7) % 11) - 0.4;
  for (int i = 0; i < N; i++) {
    x[i] = 0.3 * i - 0.5;
    y[i] = 1.0 - 0.2 * i;
  }
  int layouts[2] = {CblasRowMajor, CblasColMajor}, transposes[2] = {CblasNoTrans, CblasTrans};
  for (int l = 0; l < 2; l++) {
    for (int t = 0; t < 2; t++) {
      layout = layouts[l];
      transpose = transposes[t];
      double alpha = 0.7, beta = -1.3;
      double da[LDA * N] = {0}, dx[N] = {0}, dy[N] = {0};
      radx_d2 g = __enzyme_autodiff_d2((void *)weighted, alpha, enzyme_dup, a, da, enzyme_dup, x, dx, beta, enzyme_dup, y, dy);
      double h = 1e-6;
      CHECK_CLOSE(g.d0, (weighted(alpha + h, a, x, beta, y) - weighted(alpha - h, a, x, beta, y)) / (2 * h), 1e-6);
      CHECK_CLOSE(g.d1, (weighted(alpha, a, x, beta + h, y) - weighted(alpha, a, x, beta - h, y)) / (2 * h), 1e-6);
      for (int i = 0; i < LDA * N; i++) CHECK_CLOSE(da[i], fd(alpha, a, x, beta, y, &a[i]), 1e-6);
      for (int i = 0; i < N; i++) {
        CHECK_CLOSE(dx[i], fd(alpha, a, x, beta, y, &x[i]), 1e-6);
        CHECK_CLOSE(dy[i], fd(alpha, a, x, beta, y, &y[i]), 1e-6);
      }
      /* forward along (ta, tx, ty, t_alpha, t_beta) equals <gradient, direction> */
      double ta[LDA * N], tx[N], ty[N], along = 0.2 * g.d0 - 0.1 * g.d1;
      for (int i = 0; i < LDA * N; i++) {
        ta[i] = 0.05 * (i % 5) - 0.1;
        along += da[i] * ta[i];
      }
      for (int i = 0; i < N; i++) {
        tx[i] = 0.1 - 0.03 * i;
        ty[i] = 0.02 * i;
        along += dx[i] * tx[i] + dy[i] * ty[i];
      }
      CHECK(__enzyme_fwddiff((void *)weighted, alpha, 0.2, enzyme_dup, a, ta, enzyme_dup, x, tx, beta, -0.1, enzyme_dup, y, ty), along);
      /* a constant matrix: x's adjoint alone is the same */
      double dx2[N] = {0}, dy2[N] = {0};
      __enzyme_autodiff((void *)weighted, enzyme_const, alpha, enzyme_const, a, enzyme_dup, x, dx2, enzyme_const, beta, enzyme_dup, y, dy2);
      for (int i = 0; i < N; i++) CHECK(dx2[i], dx[i]);
    }
  }
  /* single precision: d/dA[i][j] = 2 w_i x_j, d/dx_j = 2 sum_i w_i A[i][j] */
  float fa[LDA * N], fx[N], dfa[LDA * N] = {0}, dfx[N] = {0};
  for (int i = 0; i < LDA * N; i++) fa[i] = 0.1f * (i % 7);
  for (int j = 0; j < N; j++) fx[j] = 1.0f - 0.25f * j;
  __enzyme_autodiff((void *)weighted_f, enzyme_dup, fa, dfa, enzyme_dup, fx, dfx);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) CHECKF(dfa[i * LDA + j], 2.0f * (i + 1) * fx[j]);
  for (int j = 0; j < N; j++) {
    float e = 0;
    for (int i = 0; i < M; i++) e += 2.0f * (i + 1) * fa[i * LDA + j];
    CHECKF(dfx[j], e);
  }
  return RADX_FINISH();
}
