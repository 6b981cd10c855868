/* Reverse mode through realloc: a buffer grown by doubling while it is filled, summed,
 * then freed. Each block is kept until the reverse sweep is done with it; the adjoints of
 * the bytes realloc moved flow back into the old block's shadow. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

static double grow_and_sum(const double *x, int n) {
  double *buf = NULL;
  int cap = 0;
  for (int i = 0; i < n; i++) {
    if (i == cap) {
      cap = cap ? 2 * cap : 1;
      buf = realloc(buf, (size_t)cap * sizeof(double));
    }
    buf[i] = x[i] * x[i] + sin(x[i]);
  }
  double s = 0;
  for (int i = 0; i < n; i++) s += buf[i] * buf[0];
  free(buf);
  return s;
}

int main(void) {
  enum { N = 37 };
  double x[N], dx[N] = {0};
  for (int i = 0; i < N; i++) x[i] = 0.1 * i - 1.3;
  __enzyme_autodiff((void *)grow_and_sum, enzyme_dup, x, dx, enzyme_const, N);
  double b0 = x[0] * x[0] + sin(x[0]), total = 0;
  for (int i = 0; i < N; i++) total += x[i] * x[i] + sin(x[i]);
  for (int i = 0; i < N; i++) {
    double db = 2 * x[i] + cos(x[i]);
    double want = db * b0 + (i == 0 ? total * db : 0);
    CHECK_CLOSE(dx[i], want, 1e-12);
  }
  return RADX_FINISH();
}
