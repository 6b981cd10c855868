/* Bundle adjustment: reprojection error and its sparse Jacobian (ADBench, Srajer et al.
 * 2018, section "Bundle adjustment"), written from the problem's definition.
 *
 * A camera has 11 parameters: rotation r (angle-axis, 3), center C (3), focal length f,
 * principal point x0 (2), radial distortion k1, k2. Observation i of point X_j by camera c:
 *   Y = R(r) (X - C)       (Rodrigues' formula; Y = X' + r x X' when |r| = 0)
 *   p = Y[0:2] / Y[2];  p *= 1 + k1 |p|^2 + k2 |p|^4;   proj = f p + x0
 *   reprojection error e_i = w_i (proj - feature_i)          (2 values)
 *   weight error       z_i = 1 - w_i^2                        (1 value)
 * The Jacobian is sparse: e_i depends on 15 parameters (its camera, its point, w_i), z_i on
 * w_i. It is computed as ADBench's AD tools do: per observation, 2 reverse sweeps of the
 * reprojection error (one per row of the 2x15 block) and one of the weight error.
 *
 * usage: ba [--quick] [--reps R] FILE   (ADBench format: n m p, then one camera, one point,
 *        one weight and one feature, replicated: camera i%n and point i%m for observation i) */
#include "../common/bench.h"

#define NCAM 11
#define NBLK 15

static void rodrigues_rotate(const double *r, const double *x, double *out) {
  double sq = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
  if (sq != 0) {
    double theta = sqrt(sq), c = cos(theta), s = sin(theta), inv = 1.0 / theta;
    double w[3] = {r[0] * inv, r[1] * inv, r[2] * inv};
    double wx[3] = {w[1] * x[2] - w[2] * x[1], w[2] * x[0] - w[0] * x[2], w[0] * x[1] - w[1] * x[0]};
    double t = (w[0] * x[0] + w[1] * x[1] + w[2] * x[2]) * (1.0 - c);
    for (int i = 0; i < 3; i++) out[i] = x[i] * c + wx[i] * s + w[i] * t;
  } else {
    out[0] = x[0] + r[1] * x[2] - r[2] * x[1];
    out[1] = x[1] + r[2] * x[0] - r[0] * x[2];
    out[2] = x[2] + r[0] * x[1] - r[1] * x[0];
  }
}

static void project(const double *cam, const double *X, double *proj) {
  double xo[3] = {X[0] - cam[3], X[1] - cam[4], X[2] - cam[5]}, y[3];
  rodrigues_rotate(cam, xo, y);
  double p0 = y[0] / y[2], p1 = y[1] / y[2];
  double rsq = p0 * p0 + p1 * p1;
  double l = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
  proj[0] = p0 * l * cam[6] + cam[7];
  proj[1] = p1 * l * cam[6] + cam[8];
}

__attribute__((noinline)) void reproj_error(const double *cam, const double *X, const double *w,
                                            const double *feat, double *err) {
  double proj[2];
  project(cam, X, proj);
  err[0] = *w * (proj[0] - feat[0]);
  err[1] = *w * (proj[1] - feat[1]);
}

__attribute__((noinline)) void weight_error(const double *w, double *err) { *err = 1.0 - *w * *w; }

typedef struct {
  int n, m, p;
  double *cams, *X, *w, *feats;
  int *obs;              /* 2 per observation: camera, point */
  double *reproj, *werr; /* objective */
  double *J, *Jw;        /* Jacobian: 2x15 block per observation (row-major), d z_i / d w_i */
} ba_t;

__attribute__((noinline)) void ba_objective(ba_t *b) {
  for (int i = 0; i < b->p; i++) {
    const double *cam = b->cams + NCAM * b->obs[2 * i], *X = b->X + 3 * b->obs[2 * i + 1];
    reproj_error(cam, X, b->w + i, b->feats + 2 * i, b->reproj + 2 * i);
  }
  for (int i = 0; i < b->p; i++) weight_error(b->w + i, b->werr + i);
}

static void ba_primal(void *ctx) { ba_objective((ba_t *)ctx); }

/* rows of the 2x15 block of observation i by two reverse sweeps */
static void ba_block(const double *cam, const double *X, const double *w, const double *feat,
                     double *J) {
  double err[2];
  for (int r = 0; r < 2; r++) {
    double *row = J + NBLK * r;
    double seed[2] = {r == 0, r == 1};
    memset(row, 0, sizeof(double) * NBLK);
    __enzyme_autodiff_void((void *)reproj_error, enzyme_dup, cam, row, enzyme_dup, X, row + NCAM,
                           enzyme_dup, w, row + NCAM + 3, enzyme_const, feat, enzyme_dupnoneed,
                           err, seed);
  }
}

static void ba_jacobian(void *ctx) {
  ba_t *b = (ba_t *)ctx;
  for (int i = 0; i < b->p; i++) {
    const double *cam = b->cams + NCAM * b->obs[2 * i], *X = b->X + 3 * b->obs[2 * i + 1];
    ba_block(cam, X, b->w + i, b->feats + 2 * i, b->J + 2 * NBLK * i);
  }
  for (int i = 0; i < b->p; i++) {
    double z, seed = 1.0;
    b->Jw[i] = 0;
    __enzyme_autodiff_void((void *)weight_error, enzyme_dup, b->w + i, b->Jw + i,
                           enzyme_dupnoneed, &z, &seed);
  }
}

static void ba_read(ba_t *b, const char *path) {
  FILE *f = bench_open(path);
  b->n = bench_read_int(f); b->m = bench_read_int(f); b->p = bench_read_int(f);
  double cam[NCAM], X[3], w, feat[2];
  bench_read_doubles(f, cam, NCAM);
  bench_read_doubles(f, X, 3);
  w = bench_read_double(f);
  bench_read_doubles(f, feat, 2);
  fclose(f);
  b->cams = BENCH_ALLOC(double, NCAM * b->n);
  b->X = BENCH_ALLOC(double, 3 * b->m);
  b->w = BENCH_ALLOC(double, b->p);
  b->feats = BENCH_ALLOC(double, 2 * b->p);
  b->obs = BENCH_ALLOC(int, 2 * b->p);
  for (int i = 0; i < b->n; i++) memcpy(b->cams + NCAM * i, cam, sizeof cam);
  for (int i = 0; i < b->m; i++) memcpy(b->X + 3 * i, X, sizeof X);
  for (int i = 0; i < b->p; i++) {
    b->w[i] = w;
    b->feats[2 * i] = feat[0];
    b->feats[2 * i + 1] = feat[1];
    b->obs[2 * i] = i % b->n;
    b->obs[2 * i + 1] = i % b->m;
  }
  b->reproj = BENCH_ALLOC(double, 2 * b->p);
  b->werr = BENCH_ALLOC(double, b->p);
  b->J = BENCH_ALLOC(double, 2 * NBLK * b->p);
  b->Jw = BENCH_ALLOC(double, b->p);
}

/* the 15 inputs of one observation, as one vector: camera, point, weight */
typedef struct { const double *feat; int row; } blk_ctx;
static double blk_flat(void *ctx, const double *q) {
  blk_ctx *c = (blk_ctx *)ctx;
  double err[2];
  reproj_error(q, q + NCAM, q + NCAM + 3, c->feat, err);
  return err[c->row];
}

/* Checks a 2x15 block: each column against forward mode (exact up to rounding) and against
 * a fourth-order central difference. */
static void ba_check_block(const double *q, const double *feat, const double *J, const char *what) {
  for (int j = 0; j < NBLK; j++) {
    double qq[NBLK], tq[NBLK], err[2], derr[2];
    memcpy(qq, q, sizeof qq);
    memset(tq, 0, sizeof tq);
    tq[j] = 1.0;
    __enzyme_fwddiff_void((void *)reproj_error, enzyme_dup, qq, tq, enzyme_dup, qq + NCAM,
                          tq + NCAM, enzyme_dup, qq + NCAM + 3, tq + NCAM + 3, enzyme_const, feat,
                          enzyme_dup, err, derr);
    for (int r = 0; r < 2; r++) {
      blk_ctx c = {feat, r};
      double e[NBLK] = {0};
      e[j] = 1.0;
      double h = 1e-4 * fmax(1.0, fabs(q[j]));
      double fd = bench_fd_dir(blk_flat, &c, q, e, NBLK, h);
      double rown = 0;
      for (int k = 0; k < NBLK; k++) rown += J[NBLK * r + k] * J[NBLK * r + k];
      double a = J[NBLK * r + j];
      char name[96];
      snprintf(name, sizeof name, "%s J[%d][%d]", what, r, j);
      bench_check(name, "fwd", a, derr[r], fmax(fmax(fabs(a), fabs(derr[r])), 1e-9 * sqrt(rown)), 1e-9);
      bench_check(name, "fd", a, fd, fmax(fmax(fabs(a), fabs(fd)), 1e-6 * sqrt(rown)), 1e-6);
    }
  }
}

static void ba_check(ba_t *b, int nsample) {
  bench_first(ba_jacobian, b);
  for (int s = 0; s < nsample; s++) {
    int i = (int)(bench_uniform() * b->p);
    double q[NBLK];
    memcpy(q, b->cams + NCAM * b->obs[2 * i], sizeof(double) * NCAM);
    memcpy(q + NCAM, b->X + 3 * b->obs[2 * i + 1], sizeof(double) * 3);
    q[NCAM + 3] = b->w[i];
    ba_check_block(q, b->feats + 2 * i, b->J + 2 * NBLK * i, "ba data");
    bench_check("ba weight error", "analytic", b->Jw[i], -2.0 * b->w[i], 1.0, 1e-14);
    /* the replicated data repeat one camera and point: also check perturbed ones */
    for (int k = 0; k < NBLK; k++) q[k] += (k < 3 ? 0.3 : 0.05 * fmax(1.0, fabs(q[k]))) * bench_uniform_pm();
    double J[2 * NBLK];
    ba_block(q, q + NCAM, q + NCAM + 3, b->feats + 2 * i, J);
    ba_check_block(q, b->feats + 2 * i, J, "ba perturbed");
  }
  /* the |r| = 0 branch of Rodrigues' formula */
  double q[NBLK], J[2 * NBLK];
  memcpy(q, b->cams, sizeof(double) * NCAM);
  q[0] = q[1] = q[2] = 0;
  memcpy(q + NCAM, b->X, sizeof(double) * 3);
  q[NCAM + 3] = b->w[0];
  ba_block(q, q + NCAM, q + NCAM + 3, b->feats, J);
  for (int j = 3; j < NBLK; j++) { /* the rotation columns differ between the branches */
    double qq[NBLK], tq[NBLK] = {0}, err[2], derr[2];
    memcpy(qq, q, sizeof qq);
    tq[j] = 1.0;
    __enzyme_fwddiff_void((void *)reproj_error, enzyme_dup, qq, tq, enzyme_dup, qq + NCAM,
                          tq + NCAM, enzyme_dup, qq + NCAM + 3, tq + NCAM + 3, enzyme_const,
                          b->feats, enzyme_dup, err, derr);
    for (int r = 0; r < 2; r++)
      bench_check("ba zero rotation", "fwd", J[NBLK * r + j], derr[r], fmax(1.0, fabs(derr[r])), 1e-9);
  }
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  ba_t b;
  memset(&b, 0, sizeof b);
  const char *path = bench_arg(&o, 0, "../shared/data/adbench/ba/ba1_n49_m7776_p31843.txt");
  ba_read(&b, path);
  char kase[96];
  snprintf(kase, sizeof kase, "n%d_m%d_p%d", b.n, b.m, b.p);
  bench_seed(777);
  ba_check(&b, o.quick ? 3 : 10);
  bench_timing t = bench_time(ba_primal, ba_jacobian, &b, &o);
  char extra[64];
  snprintf(extra, sizeof extra, "\"observations\": %d", b.p);
  bench_report("ba", kase, "sparse Jacobian (2 reverse sweeps per observation)", t, extra);
  return bench_finish();
}
