/* Batched tangents (enzyme_width 2 and 4) and enzyme_primal_return, on scalars and
 * through shadow pointers, alone and together. */
#include "radx_fwd.h"

static double f(double x, double y) { return sin(x) * y + x * exp(y); }
static void fgrad(double x, double y, double *dx, double *dy) {
  *dx = cos(x) * y + exp(y);
  *dy = sin(x) + x * exp(y);
}

static double dot(const double *a, const double *b, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += a[i] * b[i] * b[i];
  return s;
}

static void square_all(const double *in, double *out, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] * in[i] * 0.5;
}

/* Calls a helper so that the batched derivative of a callee is generated too. */
NOINLINE static double helper(double x) { return x * x * x; }
static double outer(double x, double y) { return helper(x) + helper(x * y); }

/* Batched derivatives of heap temporaries, recursion, vector code and branches. */
typedef double v4d __attribute__((vector_size(32)));
static double heap(const double *x, int n) {
  double *t = (double *)malloc(sizeof(double) * (size_t)n);
  memcpy(t, x, sizeof(double) * (size_t)n);
  double s = 0.0;
  for (int i = 0; i < n; i++) {
    t[i] *= t[i];
    s += t[i];
  }
  free(t);
  return s;
}
NOINLINE static double rpow(double x, int n) {
  if (n == 0) return 1.0;
  double h = rpow(x, n / 2);
  return (n % 2) ? h * h * x : h * h;
}
static double vec(const double *in) {
  v4d x;
  memcpy(&x, in, sizeof x);
  v4d y = x * x;
  return y[0] + y[1] * 2 + y[2] * 3 + y[3] * 4;
}
static double branchy(double x, double y) { return x > y ? sin(x) * y : cos(y) * x; }

int main(void) {
  double x = 0.8, y = -0.4, gx, gy;
  fgrad(x, y, &gx, &gy);

  /* width 2: the two directions are the unit vectors, the result is the gradient */
  radx_d2 g = __enzyme_fwddiff_d2((void *)f, enzyme_width, 2, enzyme_dup, x, 1.0, 0.0, enzyme_dup, y, 0.0, 1.0);
  CHECK(g.d0, gx);
  CHECK(g.d1, gy);

  /* width 4: four arbitrary directions */
  const double u[4] = {1.0, 0.0, 2.0, -1.0}, w[4] = {0.0, 1.0, 0.5, 3.0};
  radx_d4 g4 = __enzyme_fwddiff_d4((void *)f, enzyme_width, 4, enzyme_dup, x, u[0], u[1], u[2], u[3], enzyme_dup, y, w[0], w[1], w[2], w[3]);
  CHECK(g4.d0, u[0] * gx + w[0] * gy);
  CHECK(g4.d1, u[1] * gx + w[1] * gy);
  CHECK(g4.d2, u[2] * gx + w[2] * gy);
  CHECK(g4.d3, u[3] * gx + w[3] * gy);

  /* primal return: {f, tangent} */
  radx_d2 pt = __enzyme_fwddiff_d2((void *)f, enzyme_primal_return, enzyme_dup, x, 1.0, enzyme_dup, y, 0.0);
  CHECK(pt.d0, f(x, y));
  CHECK(pt.d1, gx);

  /* primal return with width 2: {f, t0, t1} */
  radx_d3 p2 = __enzyme_fwddiff_d3((void *)f, enzyme_width, 2, enzyme_primal_return, enzyme_dup, x, 1.0, 0.0, enzyme_dup, y, 0.0, 1.0);
  CHECK(p2.d0, f(x, y));
  CHECK(p2.d1, gx);
  CHECK(p2.d2, gy);

  /* primal return with width 4: {f, t0..t3} */
  radx_d5 p4 = __enzyme_fwddiff_d5((void *)f, enzyme_width, 4, enzyme_primal_return, enzyme_dup, x, u[0], u[1], u[2], u[3], enzyme_dup, y, w[0], w[1], w[2], w[3]);
  CHECK(p4.d0, f(x, y));
  CHECK(p4.d1, u[0] * gx + w[0] * gy);
  CHECK(p4.d4, u[3] * gx + w[3] * gy);

  /* width 2 through pointers: one shadow array per direction */
  double a[3] = {1.0, 2.0, 3.0}, b[3] = {0.5, -1.0, 2.0};
  double da0[3] = {1, 0, 0}, da1[3] = {0, 0, 0}, db0[3] = {0, 0, 0}, db1[3] = {0, 0, 1};
  radx_d2 gd = __enzyme_fwddiff_d2((void *)dot, enzyme_width, 2, enzyme_dup, a, da0, da1, enzyme_dup, b, db0, db1, enzyme_const, 3);
  CHECK(gd.d0, b[0] * b[0]);
  CHECK(gd.d1, 2 * a[2] * b[2]);

  /* width 4, void function, output shadows */
  double out[3], o0[3] = {0}, o1[3] = {0}, o2[3] = {0}, o3[3] = {0};
  double i0[3] = {1, 0, 0}, i1[3] = {0, 1, 0}, i2[3] = {0, 0, 1}, i3[3] = {1, 1, 1};
  __enzyme_fwddiff_void((void *)square_all, enzyme_width, 4, enzyme_dup, a, i0, i1, i2, i3, enzyme_dupnoneed, out, o0, o1, o2, o3, enzyme_const, 3);
  for (int i = 0; i < 3; i++) {
    CHECK(o0[i], i == 0 ? a[i] : 0.0);
    CHECK(o1[i], i == 1 ? a[i] : 0.0);
    CHECK(o2[i], i == 2 ? a[i] : 0.0);
    CHECK(o3[i], a[i]);
  }

  /* width 2 through a defined callee */
  radx_d2 go = __enzyme_fwddiff_d2((void *)outer, enzyme_width, 2, x, 1.0, 0.0, y, 0.0, 1.0);
  CHECK(go.d0, 3 * x * x + 3 * pow(x * y, 2) * y);
  CHECK(go.d1, 3 * pow(x * y, 2) * x);
  double h[3] = {1, 2, 3}, h0[3] = {1, 0, 0}, h1[3] = {0, 0, 1};
  radx_d2 rh = __enzyme_fwddiff_d2((void *)heap, enzyme_width, 2, enzyme_dup, h, h0, h1, enzyme_const, 3);
  CHECK(rh.d0, 2.0);
  CHECK(rh.d1, 6.0);
  radx_d4 rp = __enzyme_fwddiff_d4((void *)rpow, enzyme_width, 4, 1.5, 1.0, 2.0, 0.0, -1.0, enzyme_const, 5);
  double e = 5 * pow(1.5, 4);
  CHECK(rp.d0, e);
  CHECK(rp.d1, 2 * e);
  CHECK(rp.d2, 0.0);
  CHECK(rp.d3, -e);
  double vv[4] = {1, 2, 3, 4}, va[4] = {1, 1, 1, 1}, vb[4] = {0, 1, 0, 0};
  radx_d2 rv = __enzyme_fwddiff_d2((void *)vec, enzyme_width, 2, vv, va, vb);
  CHECK(rv.d0, 2 * 1 + 4 * 2 + 6 * 3 + 8 * 4);
  CHECK(rv.d1, 8.0);
  radx_d3 rb = __enzyme_fwddiff_d3((void *)branchy, enzyme_width, 2, enzyme_primal_return, 2.0, 1.0, 0.0, 1.0, 0.0, 1.0);
  CHECK(rb.d0, sin(2.0));
  CHECK(rb.d1, cos(2.0));
  CHECK(rb.d2, sin(2.0));
  return RADX_FINISH();
}
