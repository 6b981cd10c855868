/* Pointers carrying derivatives: arrays of row pointers, pointer phis in loops,
 * selects between pointers, helpers returning pointers into active memory, type
 * punning through integers, constant global tables, and long double. */
#include "radx_fwd.h"
#include <stdint.h>

/* Row pointers: the shadow of rows[] holds the shadows of the rows. */
static double trace_sq(double **rows, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += rows[i][i] * rows[i][i];
  return s;
}

/* A pointer walking an array (a pointer phi). */
static double walk(const double *a, const double *end) {
  double s = 0.0;
  for (const double *p = a; p != end; ++p) s += *p * (double)(p - a + 1);
  return s;
}

/* A pointer chosen by a comparison (a select or phi of pointers). */
static double larger_sq(double *a, double *b) {
  double *p = *a > *b ? a : b;
  *p *= 2.0;
  return *p * *p;
}

/* A helper returning a pointer into active memory. */
NOINLINE static double *middle(double *v, int n) { return v + n / 2; }
static double mid_cube(double *v, int n) {
  double *m = middle(v, n);
  return *m * *m * *m;
}

/* Type punning: the bits of a double copied through a 64-bit integer. */
static double punned(double x) {
  uint64_t bits;
  double y;
  memcpy(&bits, &x, sizeof bits);
  memcpy(&y, &bits, sizeof y);
  return y * y;
}
/* A struct copied through a union of integers. */
typedef struct { double a, b; } pair;
typedef union { pair p; uint64_t u[2]; } punpair;
static double union_copy(double a, double b) {
  punpair s, t;
  s.p.a = a;
  s.p.b = b;
  t.u[0] = s.u[1];
  t.u[1] = s.u[0];
  return t.p.a * 3.0 + t.p.b;
}

/* Constant tables in globals are inactive. */
static const double weights[4] = {0.5, 1.5, -2.0, 4.0};
static double weighted(const double *x) {
  double s = 0.0;
  for (int i = 0; i < 4; i++) s += weights[i] * sin(x[i]);
  return s;
}

/* long double arithmetic and libm (x86_fp80). */
static long double ld(long double x) { return sinl(x) * x + expl(x * 0.5L); }
long double __enzyme_fwddiff_ld(void *, int, long double, long double);

int main(void) {
  double r0[3] = {1, 2, 3}, r1[3] = {4, 5, 6}, r2[3] = {7, 8, 9};
  double d0[3] = {0}, d1[3] = {0, 1, 0}, d2[3] = {0, 0, 1};
  double *rows[3] = {r0, r1, r2}, *drows[3] = {d0, d1, d2};
  CHECK(__enzyme_fwddiff((void *)trace_sq, enzyme_dup, rows, drows, enzyme_const, 3), 2 * 5 + 2 * 9);

  double a[5] = {1, 2, 3, 4, 5}, da[5] = {0, 0, 1, 0, 1};
  CHECK(__enzyme_fwddiff((void *)walk, enzyme_dup, a, da, enzyme_dup, a + 5, da + 5), 3.0 + 5.0);

  double x = 3.0, y = 2.0, dx = 1.0, dy = 0.0;
  CHECK(__enzyme_fwddiff((void *)larger_sq, &x, &dx, &y, &dy), 8 * 3.0);
  CHECK(x, 6.0);
  CHECK(dx, 2.0);
  x = 1.0, y = 2.0, dx = 1.0, dy = 0.5;
  CHECK(__enzyme_fwddiff((void *)larger_sq, &x, &dx, &y, &dy), 8 * 2.0 * 0.5);

  double v[5] = {1, 2, 1.5, 4, 5}, dv[5] = {1, 1, 1, 1, 1};
  CHECK(__enzyme_fwddiff((void *)mid_cube, v, dv, 5), 3 * 1.5 * 1.5);

  CHECK(__enzyme_fwddiff((void *)punned, 1.25, 1.0), 2.5);
  CHECK(__enzyme_fwddiff((void *)union_copy, 1.0, 1.0, 2.0, 0.0), 1.0);
  CHECK(__enzyme_fwddiff((void *)union_copy, 1.0, 0.0, 2.0, 1.0), 3.0);

  double w[4] = {0.1, 0.2, 0.3, 0.4}, dw[4] = {1, 1, 1, 1};
  double e = 0.0;
  for (int i = 0; i < 4; i++) e += weights[i] * cos(w[i]);
  CHECK(__enzyme_fwddiff((void *)weighted, w, dw), e);

  long double lx = 0.75L;
  long double dl = __enzyme_fwddiff_ld((void *)ld, enzyme_dup, lx, 1.0L);
  CHECK(dl, cos(0.75) * 0.75 + sin(0.75) + 0.5 * exp(0.375));
  return RADX_FINISH();
}
