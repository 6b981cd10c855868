/* Merged shadow allocations: a scratch block allocated and freed inside the function is
 * allocated once for itself and its shadow (the shadow after the primal bytes) instead of
 * twice. Covers blocks allocated in a loop (freed at the reverse of each iteration), a
 * block of odd size (the shadow starts at the next 16-byte boundary), and an allocation
 * that fails (the shadow half must not be touched; the caller sees null as before). */
#include "radx_fwd.h"
#include <stdint.h>

void __enzyme_autodiff(void *, ...);

enum { N = 7 };

NOINLINE double rounds(const double *x, int n) {
  double s = 0;
  for (int r = 0; r < 3; r++) {
    double *t = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) t[i] = x[i] * (r + 1);
    for (int i = 0; i < n; i++) s += t[i] * t[(i + 1) % n];
    free(t);
  }
  return s;
}

/* 3 doubles and a flag byte: 25 bytes, so the shadow half starts at offset 32. */
struct odd { double v[3]; char flag; };

NOINLINE double odd_block(const double *x, volatile size_t extra) {
  struct odd *o = malloc(sizeof(double) * 3 + 1 + extra);
  for (int i = 0; i < 3; i++) o->v[i] = sin(x[i]);
  o->flag = 1;
  double s = o->v[0] * o->v[1] + o->v[2];
  free(o);
  return s;
}

/* Escapes, so the optimizer cannot drop the allocation and assume it succeeded. */
void *volatile last_block;

NOINLINE double guarded(const double *x, volatile size_t bytes) {
  double *t = malloc(bytes);
  last_block = t;
  if (!t) return x[0] * x[0];
  t[0] = x[0];
  double v = 3 * t[0];
  free(t);
  return v;
}

int main(void) {
  double x[N], dx[N] = {0};
  for (int i = 0; i < N; i++) x[i] = 0.3 * i - 0.8;
  __enzyme_autodiff((void *)rounds, enzyme_dup, x, dx, enzyme_const, N);
  /* s = sum_r (r+1)^2 sum_i x_i x_{i+1}: ds/dx_i = 14 (x_{i+1} + x_{i-1}) */
  for (int i = 0; i < N; i++) CHECK(dx[i], 14 * (x[(i + 1) % N] + x[(i + N - 1) % N]));

  double dy[N] = {0};
  __enzyme_autodiff((void *)odd_block, enzyme_dup, x, dy, enzyme_const, (size_t)0);
  CHECK(dy[0], cos(x[0]) * sin(x[1]));
  CHECK(dy[1], sin(x[0]) * cos(x[1]));
  CHECK(dy[2], cos(x[2]));

  double dz[N] = {0};
  __enzyme_autodiff((void *)guarded, enzyme_dup, x, dz, enzyme_const, (size_t)(SIZE_MAX / 2));
  CHECK(dz[0], 2 * x[0]);
  for (int i = 0; i < N; i++) dz[i] = 0;
  __enzyme_autodiff((void *)guarded, enzyme_dup, x, dz, enzyme_const, sizeof(double));
  CHECK(dz[0], 3.0);
  return RADX_FINISH();
}
