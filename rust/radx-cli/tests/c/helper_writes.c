/* Helpers kept out of line that write memory: what a call may overwrite decides which
 * earlier reads the reverse sweep must cache. `penalty` calls lgamma (so LLVM gives it no
 * memory attribute) and writes only the scratch array it is passed: the reads of `x`
 * before it can be repeated. `rescale` really overwrites `x`: the reads before it must be
 * the values they had, not the rescaled ones. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

#define N 9

NOINLINE static double penalty(const double *x, double *scratch, int n) {
  double s = lgamma(3.5);
  for (int i = 0; i < n; i++) {
    scratch[i] = x[i] * x[i];
    s += scratch[i];
  }
  return s;
}

double keeps_reads(double *x, int n) {
  double *scratch = malloc(sizeof(double) * n);
  double s = 0;
  for (int i = 0; i < n; i++) s += sin(x[i]) * x[i];
  s += penalty(x, scratch, n);
  free(scratch);
  return s;
}

NOINLINE static void rescale(double *x, int n) {
  double g = lgamma(2.5);
  for (int i = 0; i < n; i++) x[i] = x[i] * 0.5 + g;
}

double overwrites_reads(double *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += sin(x[i]) * x[i];
  rescale(x, n);
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

int main(void) {
  double x[N], dx[N];
  for (int i = 0; i < N; i++) x[i] = 0.3 + 0.2 * i;
  memset(dx, 0, sizeof dx);
  __enzyme_autodiff((void *)keeps_reads, enzyme_dup, x, dx, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dx[i], cos(x[i]) * x[i] + sin(x[i]) + 2 * x[i]);

  double y[N], dy[N], y0[N];
  for (int i = 0; i < N; i++) y0[i] = y[i] = 0.3 + 0.2 * i;
  memset(dy, 0, sizeof dy);
  __enzyme_autodiff((void *)overwrites_reads, enzyme_dup, y, dy, enzyme_const, N);
  double g = lgamma(2.5);
  for (int i = 0; i < N; i++) {
    double z = y0[i] * 0.5 + g;
    CHECK(y[i], z);
    CHECK(dy[i], cos(y0[i]) * y0[i] + sin(y0[i]) + 2 * z * 0.5);
  }
  return RADX_FINISH();
}
