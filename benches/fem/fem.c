/* A finite-element-style energy: the sum over the triangles of a generated 2D mesh of a
 * compressible neo-Hookean energy density,
 *   F = Ds Dm^-1 (deformation gradient: Ds, Dm the deformed and rest edge matrices),
 *   J = det F, I1 = tr(F^T F),
 *   E = sum_t area_t ( mu/2 (I1 - 2) - mu log J + lambda/2 (log J)^2 ),
 * with its gradient (one reverse sweep) and a Hessian-vector product by forward over reverse
 * (__enzyme_fwddiff of a function that calls __enzyme_autodiff).
 *
 * The mesh: an nx x ny grid of unit-square cells split into 2 triangles each, deformed by a
 * smooth seeded displacement (every J stays positive).
 *
 * usage: fem [--quick] [--reps R] [NX [NY]]      (300 x 300 cells by default) */
#include "../common/bench.h"

typedef struct {
  int nv, nt;
  const int *tri;      /* 3 vertex indices per triangle */
  const double *dminv; /* 4 per triangle: Dm^-1, row-major */
  const double *area;  /* rest area per triangle */
  double mu, lambda;
} mesh_t;

__attribute__((noinline)) double fem_energy(const double *x, const mesh_t *m) {
  double e = 0;
  for (int t = 0; t < m->nt; t++) {
    const int *v = m->tri + 3 * t;
    const double *d = m->dminv + 4 * t;
    double ax = x[2 * v[1]] - x[2 * v[0]], ay = x[2 * v[1] + 1] - x[2 * v[0] + 1];
    double bx = x[2 * v[2]] - x[2 * v[0]], by = x[2 * v[2] + 1] - x[2 * v[0] + 1];
    /* F = [a b] Dm^-1 */
    double f00 = ax * d[0] + bx * d[2], f01 = ax * d[1] + bx * d[3];
    double f10 = ay * d[0] + by * d[2], f11 = ay * d[1] + by * d[3];
    double J = f00 * f11 - f01 * f10;
    double I1 = f00 * f00 + f01 * f01 + f10 * f10 + f11 * f11;
    double lj = log(J);
    e += m->area[t] * (0.5 * m->mu * (I1 - 2.0) - m->mu * lj + 0.5 * m->lambda * lj * lj);
  }
  return e;
}

/* g += dE/dx */
__attribute__((noinline)) void fem_gradient(const double *x, double *g, const mesh_t *m) {
  __enzyme_autodiff((void *)fem_energy, enzyme_dup, x, g, enzyme_const, m);
}

/* hv = H v (g receives the gradient); both must be zero on entry */
static void fem_hvp(const double *x, const double *v, double *g, double *hv, const mesh_t *m) {
  __enzyme_fwddiff_void((void *)fem_gradient, enzyme_dup, x, v, enzyme_dup, g, hv, enzyme_const, m);
}

typedef struct {
  mesh_t m;
  int n; /* 2 nv */
  double *x, *g, *v, *hv, *g2, energy;
} fem_t;

static void f_primal(void *c) { fem_t *f = (fem_t *)c; f->energy = fem_energy(f->x, &f->m); }
static void f_gradient(void *c) {
  fem_t *f = (fem_t *)c;
  memset(f->g, 0, sizeof(double) * (size_t)f->n);
  fem_gradient(f->x, f->g, &f->m);
}
static void f_hvp(void *c) {
  fem_t *f = (fem_t *)c;
  memset(f->g2, 0, sizeof(double) * (size_t)f->n);
  memset(f->hv, 0, sizeof(double) * (size_t)f->n);
  fem_hvp(f->x, f->v, f->g2, f->hv, &f->m);
}
static double f_flat(void *c, const double *x) { return fem_energy(x, &((fem_t *)c)->m); }
static double f_fwd(void *c, const double *x, const double *v) {
  fem_t *f = (fem_t *)c;
  return __enzyme_fwddiff((void *)fem_energy, enzyme_dup, x, v, enzyme_const, &f->m);
}

static void fem_build(fem_t *f, int nx, int ny) {
  int nv = (nx + 1) * (ny + 1), nt = 2 * nx * ny;
  int *tri = BENCH_ALLOC(int, 3 * nt);
  double *dminv = BENCH_ALLOC(double, 4 * nt), *area = BENCH_ALLOC(double, nt);
  double *X = BENCH_ALLOC(double, 2 * nv);
  for (int j = 0; j <= ny; j++)
    for (int i = 0; i <= nx; i++) {
      X[2 * (j * (nx + 1) + i)] = i;
      X[2 * (j * (nx + 1) + i) + 1] = j;
    }
  int t = 0;
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      int a = j * (nx + 1) + i, b = a + 1, c = a + nx + 1, d = c + 1;
      int q[2][3] = {{a, b, d}, {a, d, c}};
      for (int k = 0; k < 2; k++, t++) {
        for (int r = 0; r < 3; r++) tri[3 * t + r] = q[k][r];
        double e0x = X[2 * q[k][1]] - X[2 * q[k][0]], e0y = X[2 * q[k][1] + 1] - X[2 * q[k][0] + 1];
        double e1x = X[2 * q[k][2]] - X[2 * q[k][0]], e1y = X[2 * q[k][2] + 1] - X[2 * q[k][0] + 1];
        double det = e0x * e1y - e1x * e0y; /* Dm = [e0 e1] */
        dminv[4 * t] = e1y / det; dminv[4 * t + 1] = -e1x / det;
        dminv[4 * t + 2] = -e0y / det; dminv[4 * t + 3] = e0x / det;
        area[t] = 0.5 * fabs(det);
      }
    }
  f->m.nv = nv; f->m.nt = nt; f->m.tri = tri; f->m.dminv = dminv; f->m.area = area;
  f->m.mu = 1.0; f->m.lambda = 4.0;
  f->n = 2 * nv;
  f->x = X;
  /* smooth stretch and shear plus small noise: J stays near 1 */
  for (int k = 0; k < nv; k++) {
    double px = X[2 * k], py = X[2 * k + 1];
    X[2 * k] = 1.1 * px + 0.05 * py + 0.3 * sin(0.1 * py) + 0.02 * bench_uniform_pm();
    X[2 * k + 1] = 0.95 * py + 0.2 * cos(0.07 * px) + 0.02 * bench_uniform_pm();
  }
  f->g = BENCH_ALLOC(double, f->n); f->g2 = BENCH_ALLOC(double, f->n);
  f->v = BENCH_ALLOC(double, f->n); f->hv = BENCH_ALLOC(double, f->n);
  bench_fill(f->v, f->n, -1, 1);
}

/* H v against a finite difference of the gradient along v, and u.(H v) = v.(H u) */
static void fem_check_hvp(fem_t *f) {
  int n = f->n;
  f_hvp(f);
  /* a step of 1e-3 per unknown: truncation ~ h^4, rounding ~ eps |g| / h, both far below 1e-5 */
  double *gp[4], offs[4] = {-2, -1, 1, 2}, h = 1e-3;
  double *xs = BENCH_ALLOC(double, n);
  for (int k = 0; k < 4; k++) {
    gp[k] = BENCH_ALLOC(double, n);
    for (int i = 0; i < n; i++) xs[i] = f->x[i] + offs[k] * h * f->v[i];
    fem_gradient(xs, gp[k], &f->m);
  }
  double hmax = 0;
  for (int i = 0; i < n; i++) hmax = fmax(hmax, fabs(f->hv[i]));
  double worst = 0;
  for (int i = 0; i < n; i++) {
    double fd = (gp[0][i] - 8 * gp[1][i] + 8 * gp[2][i] - gp[3][i]) / (12 * h);
    double err = fabs(fd - f->hv[i]) / fmax(fabs(fd), 1e-3 * hmax);
    if (err > worst || err != err) worst = err;
  }
  bench_check("fem H v vs finite difference of the gradient (worst relative error of an entry)",
              "fd", worst, 0, 1, 1e-6);
  /* symmetry */
  double *u = BENCH_ALLOC(double, n), *hu = BENCH_ALLOC(double, n), *gu = BENCH_ALLOC(double, n);
  bench_fill(u, n, -1, 1);
  fem_hvp(f->x, u, gu, hu, &f->m);
  double uhv = 0, vhu = 0;
  for (int i = 0; i < n; i++) { uhv += u[i] * f->hv[i]; vhu += f->v[i] * hu[i]; }
  bench_check("fem u.(H v) vs v.(H u)", "sym", uhv, vhu, fmax(fabs(uhv), 1.0), 1e-9);
  for (int k = 0; k < 4; k++) free(gp[k]);
  free(xs); free(u); free(hu); free(gu);
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  int nx = atoi(bench_arg(&o, 0, o.quick ? "60" : "300"));
  int ny = atoi(bench_arg(&o, 1, bench_arg(&o, 0, o.quick ? "60" : "300")));
  fem_t f;
  bench_seed(2024);
  fem_build(&f, nx, ny);
  char kase[48], extra[96];
  snprintf(kase, sizeof kase, "%dx%d", nx, ny);
  snprintf(extra, sizeof extra, "\"triangles\": %d, \"unknowns\": %d", f.m.nt, f.n);

  bench_first(f_gradient, &f);
  /* the energy is a sum of many terms: a large step (along a unit vector of 2 nv entries, so
   * each unknown moves little) keeps the rounding of the difference quotient small */
  bench_check_dirs("fem gradient", f_flat, f_fwd, &f, f.x, f.g, f.n, o.quick ? 2 : 4, 1e-2, 1e-6, 1e-9);
  bench_timing t = bench_time(f_primal, f_gradient, &f, &o);
  bench_report("fem", kase, "gradient (1 reverse sweep)", t, extra);

  fem_check_hvp(&f);
  t = bench_time(f_primal, f_hvp, &f, &o);
  bench_report("fem", kase, "Hessian-vector product (forward over reverse)", t, extra);
  return bench_finish();
}
