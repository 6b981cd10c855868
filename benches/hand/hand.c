/* Hand tracking (ADBench, Srajer et al. 2018, section "Hand tracking"), written from the
 * problem's definition.
 *
 * A skinned hand model (22 bones with rest transforms, vertices with bone weights) is posed
 * by 26 parameters theta: global rotation (angle-axis, 3), translation (3), and 4 angles per
 * finger (two at the base joint, one at each of the next two joints; the metacarpal bone and
 * the forearm are not posed). Each bone gets a rotation from its 3 Euler angles,
 *   relative_i = base_relative_i * R(pose_i),  absolute_i = absolute_parent * relative_i,
 *   transform_i = absolute_i * inverse_base_absolute_i,
 *   vertex_v = sum_i weight_iv * transform_i * rest_v      (linear blend skinning)
 * then the global rotation and translation. The residual of data point p:
 *   simple:       err_p = point_p - vertex[corr_p]
 *   complicated:  err_p = point_p - (u0 V[t0] + u1 V[t1] + (1 - u0 - u1) V[t2])  for triangle
 *                 corr_p = (t0, t1, t2), with the barycentric u_p also unknown.
 *
 * Measured derivatives:
 *   - one reverse sweep: J^T s for one seed s (theta, and u in the complicated problem);
 *   - the full Jacobian: 26 forward sweeps (theta columns), plus 2 in the complicated problem
 *     (each point's residual depends on its own u only, so all u0 columns fit in one sweep).
 *
 * usage: hand [--quick] [--reps R] INSTANCE   (ADBench hand format; the model is the folder
 *        `model/` beside the instance file; "complicated" in the path selects that problem) */
#include "../common/bench.h"

#define NTHETA 26

typedef struct {
  int nbones, nverts, ntri;
  int *parents;
  double *base_rel, *inv_base_abs; /* 4x4 row-major per bone */
  double *rest;                    /* 3 per vertex */
  double *weights;                 /* nbones x nverts */
  int *tri;                        /* 3 per triangle */
} hand_model;

typedef struct {
  int npts;
  int *corr;      /* vertex (simple) or triangle (complicated) of each point */
  double *points; /* 3 per point */
} hand_data;

/* ---------------------------------------------------------------- the model */
static void matmul4(const double *a, const double *b, double *out) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += a[4 * i + k] * b[4 * k + j];
      out[4 * i + j] = s;
    }
}

/* Euler angles (x, z, y order in the parameter vector) to R = Rz Ry Rx, as a 4x4 */
static void euler_to_transform(const double *xzy, double *T) {
  double tx = xzy[0], ty = xzy[2], tz = xzy[1];
  double cx = cos(tx), sx = sin(tx), cy = cos(ty), sy = sin(ty), cz = cos(tz), sz = sin(tz);
  double R[9] = {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
                 sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
                 -sy,     cy * sx,                cy * cx};
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) T[4 * i + j] = R[3 * i + j];
    T[4 * i + 3] = 0;
  }
  T[12] = T[13] = T[14] = 0;
  T[15] = 1;
}

static void angle_axis_to_rotation(const double *aa, double *R) {
  double n = sqrt(aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]);
  if (n < 1e-4) {
    for (int i = 0; i < 9; i++) R[i] = (i % 4 == 0);
    return;
  }
  double x = aa[0] / n, y = aa[1] / n, z = aa[2] / n, s = sin(n), c = cos(n);
  R[0] = x * x + (1 - x * x) * c; R[1] = x * y * (1 - c) - z * s; R[2] = x * z * (1 - c) + y * s;
  R[3] = x * y * (1 - c) + z * s; R[4] = y * y + (1 - y * y) * c; R[5] = y * z * (1 - c) - x * s;
  R[6] = x * z * (1 - c) - y * s; R[7] = z * y * (1 - c) + x * s; R[8] = z * z + (1 - z * z) * c;
}

/* pose parameters: 3 per column; column 0 global rotation, 1 scale, 2 translation, 3 + i bone i */
static void theta_to_pose(const double *theta, int nbones, double *pose) {
  int ncols = nbones + 3;
  for (int i = 0; i < 3 * ncols; i++) pose[i] = 0;
  for (int i = 0; i < 3; i++) {
    pose[i] = theta[i];
    pose[3 + i] = 1;
    pose[6 + i] = theta[3 + i];
  }
  int it = 6, col = 5; /* the first posed bone: 3 + bone 2 (the first finger's second bone) */
  for (int finger = 0; finger < 5; finger++) {
    for (int j = 2; j <= 4; j++) {
      pose[3 * col] = theta[it++];
      if (j == 2) pose[3 * col + 1] = theta[it++];
      col++;
    }
    col++;
  }
}

/* vertex positions (3 per vertex) of the posed model */
static void hand_vertices(const double *theta, const hand_model *m, double *V) {
  int nb = m->nbones, nv = m->nverts;
  double *pose = (double *)malloc(sizeof(double) * (size_t)(3 * (nb + 3)));
  double *rel = (double *)malloc(sizeof(double) * (size_t)(16 * nb));
  double *abs_ = (double *)malloc(sizeof(double) * (size_t)(16 * nb));
  double *tr = (double *)malloc(sizeof(double) * (size_t)(16 * nb));
  theta_to_pose(theta, nb, pose);
  for (int i = 0; i < nb; i++) {
    double T[16];
    euler_to_transform(pose + 3 * (i + 3), T);
    matmul4(m->base_rel + 16 * i, T, rel + 16 * i);
  }
  for (int i = 0; i < nb; i++) {
    if (m->parents[i] < 0) memcpy(abs_ + 16 * i, rel + 16 * i, sizeof(double) * 16);
    else matmul4(abs_ + 16 * m->parents[i], rel + 16 * i, abs_ + 16 * i);
  }
  for (int i = 0; i < nb; i++) matmul4(abs_ + 16 * i, m->inv_base_abs + 16 * i, tr + 16 * i);
  for (int v = 0; v < 3 * nv; v++) V[v] = 0;
  for (int i = 0; i < nb; i++) {
    const double *t = tr + 16 * i, *w = m->weights + (size_t)nv * i;
    for (int v = 0; v < nv; v++) {
      const double *p = m->rest + 3 * v;
      for (int r = 0; r < 3; r++)
        V[3 * v + r] += w[v] * (t[4 * r] * p[0] + t[4 * r + 1] * p[1] + t[4 * r + 2] * p[2] + t[4 * r + 3]);
    }
  }
  double R[9];
  angle_axis_to_rotation(pose, R);
  for (int i = 0; i < 9; i++) R[i] *= pose[3 + i % 3]; /* scale the columns */
  for (int v = 0; v < nv; v++) {
    double x = V[3 * v], y = V[3 * v + 1], z = V[3 * v + 2];
    for (int r = 0; r < 3; r++) V[3 * v + r] = R[3 * r] * x + R[3 * r + 1] * y + R[3 * r + 2] * z + pose[6 + r];
  }
  free(pose); free(rel); free(abs_); free(tr);
}

__attribute__((noinline)) void hand_simple(const double *theta, const hand_model *m,
                                           const hand_data *d, double *err) {
  double *V = (double *)malloc(sizeof(double) * (size_t)(3 * m->nverts));
  hand_vertices(theta, m, V);
  for (int p = 0; p < d->npts; p++)
    for (int r = 0; r < 3; r++) err[3 * p + r] = d->points[3 * p + r] - V[3 * d->corr[p] + r];
  free(V);
}

__attribute__((noinline)) void hand_complicated(const double *theta, const double *us,
                                                const hand_model *m, const hand_data *d,
                                                double *err) {
  double *V = (double *)malloc(sizeof(double) * (size_t)(3 * m->nverts));
  hand_vertices(theta, m, V);
  for (int p = 0; p < d->npts; p++) {
    const int *t = m->tri + 3 * d->corr[p];
    double u0 = us[2 * p], u1 = us[2 * p + 1], u2 = 1.0 - u0 - u1;
    for (int r = 0; r < 3; r++)
      err[3 * p + r] = d->points[3 * p + r] -
                       (u0 * V[3 * t[0] + r] + u1 * V[3 * t[1] + r] + u2 * V[3 * t[2] + r]);
  }
  free(V);
}

/* ---------------------------------------------------------------- benchmark state */
typedef struct {
  int complicated, npts, nparams; /* nparams: 26, or 26 + 2 npts */
  hand_model m;
  hand_data d;
  double *p;       /* theta then us */
  double *err, *derr, *seed, *seedcopy;
  double *grad;    /* J^T seed */
  double *J;       /* 3 npts x (26 + 2): theta columns, then the point's own u0, u1 */
  double *tp, *tmp_err;
} hand_t;

static void hand_primal(void *ctx) {
  hand_t *h = (hand_t *)ctx;
  if (h->complicated) hand_complicated(h->p, h->p + NTHETA, &h->m, &h->d, h->err);
  else hand_simple(h->p, &h->m, &h->d, h->err);
}

/* one reverse sweep: grad = J^T seed (the seed's copy is consumed by the sweep) */
static void hand_reverse(void *ctx) {
  hand_t *h = (hand_t *)ctx;
  memset(h->grad, 0, sizeof(double) * (size_t)h->nparams);
  memcpy(h->seedcopy, h->seed, sizeof(double) * (size_t)(3 * h->npts));
  if (h->complicated)
    __enzyme_autodiff_void((void *)hand_complicated, enzyme_dup, h->p, h->grad, enzyme_dup,
                           h->p + NTHETA, h->grad + NTHETA, enzyme_const, &h->m, enzyme_const,
                           &h->d, enzyme_dupnoneed, h->err, h->seedcopy);
  else
    __enzyme_autodiff_void((void *)hand_simple, enzyme_dup, h->p, h->grad, enzyme_const, &h->m,
                           enzyme_const, &h->d, enzyme_dupnoneed, h->err, h->seedcopy);
}

/* forward sweep with tangent tp (nparams) into derr */
static void hand_forward(hand_t *h) {
  if (h->complicated)
    __enzyme_fwddiff_void((void *)hand_complicated, enzyme_dup, h->p, h->tp, enzyme_dup,
                          h->p + NTHETA, h->tp + NTHETA, enzyme_const, &h->m, enzyme_const, &h->d,
                          enzyme_dupnoneed, h->tmp_err, h->derr);
  else
    __enzyme_fwddiff_void((void *)hand_simple, enzyme_dup, h->p, h->tp, enzyme_const, &h->m,
                          enzyme_const, &h->d, enzyme_dupnoneed, h->tmp_err, h->derr);
}

/* full Jacobian: 26 (+2) forward sweeps */
static void hand_jacobian(void *ctx) {
  hand_t *h = (hand_t *)ctx;
  int ncol = NTHETA + 2 * h->complicated, n3 = 3 * h->npts;
  for (int c = 0; c < ncol; c++) {
    memset(h->tp, 0, sizeof(double) * (size_t)h->nparams);
    if (c < NTHETA) h->tp[c] = 1.0;
    else for (int p = 0; p < h->npts; p++) h->tp[NTHETA + 2 * p + (c - NTHETA)] = 1.0;
    hand_forward(h);
    for (int r = 0; r < n3; r++) h->J[(size_t)ncol * r + c] = h->derr[r];
  }
}

/* ---------------------------------------------------------------- input */
static char *next_tok(char **s) {
  char *p = *s;
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  if (!*p) { fprintf(stderr, "hand model: unexpected end of file\n"); exit(3); }
  char *start = p;
  while (*p && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
  if (*p) *p++ = 0;
  *s = p;
  return start;
}
static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) if (*s == '\n') n++;
  return n;
}

static void hand_read_model(hand_model *m, const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/bones.txt", dir);
  char *bones = bench_slurp_colons(path), *s = bones;
  m->nbones = count_lines(bones);
  m->parents = BENCH_ALLOC(int, m->nbones);
  m->base_rel = BENCH_ALLOC(double, 16 * m->nbones);
  m->inv_base_abs = BENCH_ALLOC(double, 16 * m->nbones);
  for (int i = 0; i < m->nbones; i++) {
    next_tok(&s); /* name */
    m->parents[i] = atoi(next_tok(&s));
    for (int j = 0; j < 16; j++) m->base_rel[16 * i + j] = atof(next_tok(&s));
    for (int j = 0; j < 16; j++) m->inv_base_abs[16 * i + j] = atof(next_tok(&s));
  }
  free(bones);
  snprintf(path, sizeof path, "%s/vertices.txt", dir);
  char *verts = bench_slurp_colons(path);
  s = verts;
  m->nverts = count_lines(verts);
  m->rest = BENCH_ALLOC(double, 3 * m->nverts);
  m->weights = BENCH_ALLOC(double, m->nbones * m->nverts);
  for (int v = 0; v < m->nverts; v++) {
    for (int j = 0; j < 3; j++) m->rest[3 * v + j] = atof(next_tok(&s));
    for (int j = 0; j < 5; j++) next_tok(&s); /* normal, texture coordinates */
    int nw = atoi(next_tok(&s));
    for (int j = 0; j < nw; j++) {
      int b = atoi(next_tok(&s));
      m->weights[(size_t)m->nverts * b + v] = atof(next_tok(&s));
    }
  }
  free(verts);
  snprintf(path, sizeof path, "%s/triangles.txt", dir);
  char *tris = bench_slurp_colons(path);
  s = tris;
  m->ntri = count_lines(tris);
  m->tri = BENCH_ALLOC(int, 3 * m->ntri);
  for (int i = 0; i < 3 * m->ntri; i++) m->tri[i] = atoi(next_tok(&s));
  free(tris);
}

static void hand_read(hand_t *h, const char *instance) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", instance);
  char *slash = strrchr(dir, '/');
  if (slash) strcpy(slash + 1, "model");
  else strcpy(dir, "model");
  hand_read_model(&h->m, dir);
  h->complicated = strstr(instance, "complicated") != NULL;
  FILE *f = bench_open(instance);
  h->npts = h->d.npts = bench_read_int(f);
  int nth = bench_read_int(f);
  if (nth != NTHETA) { fprintf(stderr, "hand: expected %d parameters, got %d\n", NTHETA, nth); exit(3); }
  h->nparams = NTHETA + 2 * h->complicated * h->npts;
  h->d.corr = BENCH_ALLOC(int, h->npts);
  h->d.points = BENCH_ALLOC(double, 3 * h->npts);
  for (int p = 0; p < h->npts; p++) {
    h->d.corr[p] = bench_read_int(f);
    bench_read_doubles(f, h->d.points + 3 * p, 3);
  }
  h->p = BENCH_ALLOC(double, h->nparams);
  if (h->complicated) bench_read_doubles(f, h->p + NTHETA, 2 * h->npts);
  bench_read_doubles(f, h->p, NTHETA);
  fclose(f);
  int n3 = 3 * h->npts;
  h->err = BENCH_ALLOC(double, n3); h->derr = BENCH_ALLOC(double, n3);
  h->tmp_err = BENCH_ALLOC(double, n3);
  h->seed = BENCH_ALLOC(double, n3); h->seedcopy = BENCH_ALLOC(double, n3);
  h->grad = BENCH_ALLOC(double, h->nparams); h->tp = BENCH_ALLOC(double, h->nparams);
  h->J = BENCH_ALLOC(double, (size_t)n3 * (NTHETA + 2));
}

/* ---------------------------------------------------------------- checks */
static double hand_seeded(void *ctx, const double *p) { /* dot(seed, err(p)) */
  hand_t *h = (hand_t *)ctx;
  double *e = BENCH_ALLOC(double, 3 * h->npts);
  if (h->complicated) hand_complicated(p, p + NTHETA, &h->m, &h->d, e);
  else hand_simple(p, &h->m, &h->d, e);
  double s = 0;
  for (int i = 0; i < 3 * h->npts; i++) s += h->seed[i] * e[i];
  free(e);
  return s;
}
static double hand_seeded_fwd(void *ctx, const double *p, const double *v) {
  hand_t *h = (hand_t *)ctx;
  (void)p; /* p is h->p */
  memcpy(h->tp, v, sizeof(double) * (size_t)h->nparams);
  hand_forward(h);
  double s = 0;
  for (int i = 0; i < 3 * h->npts; i++) s += h->seed[i] * h->derr[i];
  return s;
}

/* one reverse sweep: J^T s against finite differences and forward mode */
static void hand_check_reverse(hand_t *h, int quick) {
  bench_first(hand_reverse, h);
  bench_check_dirs("hand J^T s", hand_seeded, hand_seeded_fwd, h, h->p, h->grad, h->nparams,
                   quick ? 2 : 4, 1e-4, 1e-6, 1e-9);
}

static void hand_check_jacobian(hand_t *h, int quick) {
  int n3 = 3 * h->npts, ncol = NTHETA + 2 * h->complicated;
  /* full Jacobian: theta columns against finite differences, rows against reverse sweeps */
  hand_jacobian(h);
  double *save = BENCH_ALLOC(double, n3);
  memcpy(save, h->seed, sizeof(double) * (size_t)n3);
  int nrows = quick ? 3 : 8;
  for (int k = 0; k < nrows; k++) {
    int r = (int)(bench_uniform() * n3);
    memset(h->seed, 0, sizeof(double) * (size_t)n3);
    h->seed[r] = 1.0;
    hand_reverse(h);
    for (int c = 0; c < ncol; c++) {
      double rev = c < NTHETA ? h->grad[c] : h->grad[NTHETA + 2 * (r / 3) + (c - NTHETA)];
      double a = h->J[(size_t)ncol * r + c];
      bench_check("hand Jacobian row (forward vs reverse)", "rev", a, rev, fmax(1.0, fabs(rev)), 1e-9);
    }
  }
  for (int c = 0; c < NTHETA; c++) {
    double e[NTHETA] = {0};
    e[c] = 1.0;
    for (int k = 0; k < 3; k++) {
      int r = (int)(bench_uniform() * n3);
      memset(h->seed, 0, sizeof(double) * (size_t)n3);
      h->seed[r] = 1.0;
      double *v = BENCH_ALLOC(double, h->nparams);
      memcpy(v, e, sizeof e);
      double fd = bench_fd_dir(hand_seeded, h, h->p, v, h->nparams, 1e-4);
      free(v);
      double a = h->J[(size_t)ncol * r + c];
      bench_check("hand Jacobian column (finite difference)", "fd", a, fd, fmax(1.0, fabs(fd)), 1e-6);
    }
  }
  memcpy(h->seed, save, sizeof(double) * (size_t)n3);
  free(save);
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  hand_t h;
  memset(&h, 0, sizeof h);
  const char *inst = bench_arg(&o, 0, "../shared/data/adbench/hand/simple_small/hand1_t26_c100.txt");
  hand_read(&h, inst);
  char kase[128];
  snprintf(kase, sizeof kase, "%s_%s_c%d", h.complicated ? "complicated" : "simple",
           h.m.nverts > 1000 ? "big" : "small", h.npts);
  bench_seed(99);
  bench_fill(h.seed, 3 * h.npts, -1, 1);
  char extra[96];
  snprintf(extra, sizeof extra, "\"vertices\": %d, \"points\": %d", h.m.nverts, h.npts);
  hand_check_reverse(&h, o.quick);
  bench_timing t = bench_time(hand_primal, hand_reverse, &h, &o);
  bench_report("hand", kase, "one reverse sweep (J^T s)", t, extra);
  hand_check_jacobian(&h, o.quick);
  t = bench_time(hand_primal, hand_jacobian, &h, &o);
  bench_report("hand", kase, h.complicated ? "full Jacobian (28 forward sweeps)" : "full Jacobian (26 forward sweeps)", t, extra);
  return bench_finish();
}
