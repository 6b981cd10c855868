/* Which values the reverse sweep caches, chosen by a minimum cut of the value graph
 * (min-cut) rather than value by value. Both functions read memory they later overwrite,
 * so the reads cannot be repeated in the reverse:
 * - a running maximum: the reverse needs only the comparisons, one byte each, where the
 *   value-by-value rule recomputes each comparison from the element and the running
 *   maximum, caching both;
 * - one read shared by two products: caching the read once rebuilds both, where the
 *   value-by-value rule caches each product (their operand is cached, so they are not
 *   recomputed). */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

enum { N = 13 };

NOINLINE double running_max(double *x, const double *w, int n) {
  double m = x[0], s = w[0] * m;
  for (int i = 1; i < n; i++) {
    m = x[i] > m ? x[i] : m;
    s += w[i] * m;
  }
  for (int i = 0; i < n; i++) x[i] *= 0.5;
  return s;
}

NOINLINE double shared_read(double *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    double a = x[i];
    s += sin(2 * a) * cos(3 * a);
  }
  for (int i = 0; i < n; i++) x[i] = 0;
  return s;
}

static void check_running_max(void) {
  double x[N], dx[N] = {0}, w[N], want[N] = {0};
  for (int i = 0; i < N; i++) x[i] = sin(1.7 * i + 0.3), w[i] = 0.5 + 0.1 * i;
  int arg = 0;
  for (int i = 0; i < N; i++) {
    if (x[i] > x[arg]) arg = i;
    want[arg] += w[i];
  }
  __enzyme_autodiff((void *)running_max, enzyme_dup, x, dx, enzyme_const, w, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dx[i], want[i]);
}

static void check_shared_read(void) {
  double x[N], x0[N], dx[N] = {0};
  for (int i = 0; i < N; i++) x0[i] = x[i] = 0.3 * i - 1.1;
  __enzyme_autodiff((void *)shared_read, enzyme_dup, x, dx, enzyme_const, N);
  for (int i = 0; i < N; i++) {
    double a = x0[i];
    CHECK(dx[i], 2 * cos(2 * a) * cos(3 * a) - 3 * sin(2 * a) * sin(3 * a));
  }
}

int main(void) {
  check_running_max();
  check_shared_read();
  return RADX_FINISH();
}
