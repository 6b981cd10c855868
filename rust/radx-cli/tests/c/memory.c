/* Memory: memcpy, memmove and memset through shadow pointers, heap temporaries
 * (malloc, calloc, realloc, free) inside the differentiated function, and a stack
 * buffer copied around. */
#include "radx_fwd.h"

#define N 5

/* Copies x into a malloc'd temporary, squares it in place, sums. */
static double heap_sumsq(const double *x, int n) {
  double *t = (double *)malloc(sizeof(double) * (size_t)n);
  memcpy(t, x, sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) t[i] = t[i] * t[i];
  double s = 0.0;
  for (int i = 0; i < n; i++) s += t[i];
  free(t);
  return s;
}

/* calloc'd accumulator, grown with realloc. */
static double grow(const double *x, int n) {
  double *acc = (double *)calloc(2, sizeof(double));
  acc[0] = x[0];
  acc = (double *)realloc(acc, sizeof(double) * (size_t)n);
  for (int i = 1; i < n; i++) acc[i] = acc[i - 1] * x[i];
  double r = acc[n - 1];
  free(acc);
  return r;
}

/* Shifts y one place right with memmove (overlapping), zeroes the first with memset,
 * then copies x into the tail with memcpy. y is both input and output. */
static void shuffle(const double *x, double *y, int n) {
  memmove(y + 1, y, sizeof(double) * (size_t)(n - 1));
  memset(y, 0, sizeof(double));
  memcpy(y + n - 2, x, sizeof(double) * 2);
  for (int i = 0; i < n; i++) y[i] *= 2.0;
}

/* A struct holding a heap pointer: the pointer itself is stored in active memory. */
typedef struct { double *data; int n; } vecbuf;
static double through_struct(const double *x, int n) {
  vecbuf b;
  b.n = n;
  b.data = (double *)malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) b.data[i] = sin(x[i]);
  vecbuf c = b; /* copies the pointer, and its shadow */
  double s = 0.0;
  for (int i = 0; i < c.n; i++) s += c.data[i] * x[i];
  free(b.data);
  return s;
}

/* A stack buffer filled by memcpy of active data, then memset partly. */
static double stack_copy(const double *x) {
  double buf[N];
  memcpy(buf, x, sizeof buf);
  memset(buf + 3, 0, 2 * sizeof(double));
  return buf[0] * buf[1] + buf[2] + buf[3] + buf[4];
}

int main(void) {
  double x[N] = {0.5, -1.5, 2.0, 1.25, 3.0};
  for (int k = 0; k < N; k++) {
    double dx[N] = {0};
    dx[k] = 1.0;
    CHECK(__enzyme_fwddiff((void *)heap_sumsq, enzyme_dup, x, dx, enzyme_const, N), 2 * x[k]);
    double p = 1.0;
    for (int i = 0; i < N; i++) p *= x[i];
    CHECK(__enzyme_fwddiff((void *)grow, enzyme_dup, x, dx, enzyme_const, N), p / x[k]);
    CHECK(__enzyme_fwddiff((void *)through_struct, enzyme_dup, x, dx, enzyme_const, N), cos(x[k]) * x[k] + sin(x[k]));
    double e = k == 0 ? x[1] : k == 1 ? x[0] : k == 2 ? 1.0 : 0.0;
    CHECK(__enzyme_fwddiff((void *)stack_copy, enzyme_dup, x, dx), e);
  }

  double y[N] = {1, 2, 3, 4, 5}, dy[N] = {10, 20, 30, 40, 50};
  double dx[N] = {0.5, -0.5, 0, 0, 0};
  __enzyme_fwddiff_void((void *)shuffle, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, N);
  /* y = 2 * {0, y0, y1, x0, x1}; dy likewise from the shadows */
  const double ey[N] = {0, 2, 4, 2 * x[0], 2 * x[1]};
  const double edy[N] = {0, 20, 40, 1.0, -1.0};
  for (int i = 0; i < N; i++) {
    CHECK(y[i], ey[i]);
    CHECK(dy[i], edy[i]);
  }
  return RADX_FINISH();
}
