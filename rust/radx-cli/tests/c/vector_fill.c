/* Reverse mode over a scratch array that clang vectorizes the fill of (at -O2: a
 * <2 x double> body, a scalar remainder, the remainder skipped when the length is a
 * multiple of the vector step), refilled on every iteration of the outer loops and read
 * by a vectorized loop, by the columns of a triangular loop and by its remainder — the
 * shape of ADBench's GMM (xc = x_p - mu_k, then Q xc). The reads are re-derived from x
 * and mu instead of recorded (store forwarding through the vectorized fill). The lengths
 * 3, 8 and 11 take each way through the fill: vector loop skipped, remainder skipped,
 * both. Both mu and Q are active, so the reverse needs the values read. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

enum { DMAX = 11, K = 3, P = 4 };

/* sum over p, k of |Q (x_p - mu_k)|^2, Q lower triangular: diagonal L[0..d), below it
 * L[d..] column by column */
NOINLINE double fill_objective(const double *x, const double *mu, const double *L, int d, int k, int p) {
  double *xc = malloc(sizeof(double) * (size_t)d);
  double *y = malloc(sizeof(double) * (size_t)d);
  double s = 0;
  for (int ip = 0; ip < p; ip++)
    for (int ik = 0; ik < k; ik++) {
      for (int i = 0; i < d; i++) xc[i] = x[ip * d + i] - mu[ik * d + i];
      for (int i = 0; i < d; i++) y[i] = L[i] * xc[i];
      int li = d;
      for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) y[j] += L[li++] * xc[i];
      for (int i = 0; i < d; i++) s += y[i] * y[i];
    }
  free(xc);
  free(y);
  return s;
}

static double x[P * DMAX], L[DMAX * (DMAX + 1) / 2];

/* d s / d mu_k = -2 sum_p Q^T Q (x_p - mu_k); d s / d Q[r][i] = 2 sum y_r c_i, for the
 * entries L holds */
static void expected(int d, const double *mu, double *g, double *gL) {
  double Q[DMAX][DMAX] = {{0}};
  int li = d;
  for (int i = 0; i < d; i++) Q[i][i] = L[i];
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) Q[j][i] = L[li++];
  double gQ[DMAX][DMAX] = {{0}};
  for (int j = 0; j < K * d; j++) g[j] = 0;
  for (int ip = 0; ip < P; ip++)
    for (int ik = 0; ik < K; ik++) {
      double c[DMAX], y[DMAX];
      for (int i = 0; i < d; i++) c[i] = x[ip * d + i] - mu[ik * d + i];
      for (int r = 0; r < d; r++) {
        y[r] = 0;
        for (int i = 0; i < d; i++) y[r] += Q[r][i] * c[i];
      }
      for (int i = 0; i < d; i++)
        for (int r = 0; r < d; r++) {
          g[ik * d + i] -= 2 * Q[r][i] * y[r];
          gQ[r][i] += 2 * y[r] * c[i];
        }
    }
  li = d;
  for (int i = 0; i < d; i++) gL[i] = gQ[i][i];
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) gL[li++] = gQ[j][i];
}

static void check_length(int d) {
  double mu[K * DMAX], dmu[K * DMAX] = {0}, want[K * DMAX];
  double dL[DMAX * (DMAX + 1) / 2] = {0}, wantL[DMAX * (DMAX + 1) / 2];
  for (int j = 0; j < K * d; j++) mu[j] = 0.05 * j - 0.4;
  __enzyme_autodiff((void *)fill_objective, enzyme_const, x, enzyme_dup, mu, dmu, enzyme_dup, L, dL,
                    enzyme_const, d, enzyme_const, K, enzyme_const, P);
  expected(d, mu, want, wantL);
  for (int j = 0; j < K * d; j++) CHECK_CLOSE(dmu[j], want[j], 1e-11);
  for (int j = 0; j < d * (d + 1) / 2; j++) CHECK_CLOSE(dL[j], wantL[j], 1e-11);
}

int main(void) {
  for (int i = 0; i < P * DMAX; i++) x[i] = sin(0.7 * i);
  for (int i = 0; i < DMAX * (DMAX + 1) / 2; i++) L[i] = 0.5 + 0.3 * cos(1.3 * i);
  check_length(3);
  check_length(8);
  check_length(11);
  return RADX_FINISH();
}
