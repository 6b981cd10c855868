/* Shared helpers of the benchmark suite: timing (median of repeated runs in one process),
 * seeded random numbers, input reading, finite-difference checks and the one-line JSON
 * report that benches/run.py reads. Header-only so that each benchmark is a single
 * translation unit (one module for `radx opt`). */
#ifndef BENCH_H
#define BENCH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enzyme.h"

/* ---------------------------------------------------------------- options */
typedef struct {
  int quick;          /* --quick: small sizes, few repetitions */
  int reps;           /* samples per timing (median is reported) */
  double min_sample;  /* seconds: each sample repeats the call until it lasts this long */
  double budget;      /* seconds: stop sampling (after 3 samples) when this is spent */
  int nargs;          /* positional arguments (data files, sizes) */
  char **args;
} bench_opts;

static bench_opts bench_parse(int argc, char **argv) {
  bench_opts o = {0, 0, 0.0, 0.0, 0, NULL};
  o.args = (char **)calloc((size_t)argc + 1, sizeof(char *));
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) o.quick = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--min-sample") && i + 1 < argc) o.min_sample = atof(argv[++i]);
    else if (!strcmp(argv[i], "--budget") && i + 1 < argc) o.budget = atof(argv[++i]);
    else o.args[o.nargs++] = argv[i];
  }
  if (o.reps <= 0) o.reps = o.quick ? 3 : 9;
  if (o.min_sample <= 0) o.min_sample = o.quick ? 0.002 : 0.02;
  if (o.budget <= 0) o.budget = o.quick ? 1.0 : 15.0;
  return o;
}

static const char *bench_arg(const bench_opts *o, int i, const char *dflt) {
  return i < o->nargs ? o->args[i] : dflt;
}

/* ---------------------------------------------------------------- memory
 * Built with -DBENCH_COUNT_ALLOC and -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=free, every heap allocation of the benchmark's own code (the derivatives' tapes
 * included) is counted: bench_peak_bytes(f) is the peak of live heap bytes above the level
 * before the call. */
static size_t bench_live = 0, bench_peak = 0;
#ifdef BENCH_COUNT_ALLOC
#include <malloc.h>
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
static void bench_count(size_t add, size_t sub) {
  bench_live += add;
  bench_live -= sub;
  if (bench_live > bench_peak) bench_peak = bench_live;
}
void *__wrap_malloc(size_t n) {
  void *p = __real_malloc(n);
  if (p) bench_count(malloc_usable_size(p), 0);
  return p;
}
void *__wrap_calloc(size_t n, size_t m) {
  void *p = __real_calloc(n, m);
  if (p) bench_count(malloc_usable_size(p), 0);
  return p;
}
void *__wrap_realloc(void *p, size_t n) {
  size_t old = p ? malloc_usable_size(p) : 0;
  void *q = __real_realloc(p, n);
  if (q) bench_count(malloc_usable_size(q), old);
  else if (n == 0) bench_count(0, old);
  return q;
}
void __wrap_free(void *p) {
  if (p) bench_count(0, malloc_usable_size(p));
  __real_free(p);
}
#define BENCH_COUNTS_ALLOC 1
#else
#define BENCH_COUNTS_ALLOC 0
#endif

typedef void (*bench_fn)(void *ctx);
static long long bench_peak_bytes(bench_fn f, void *ctx) {
  if (!BENCH_COUNTS_ALLOC) { /* the caller may rely on the call's results */
    f(ctx);
    return -1;
  }
  size_t before = bench_live;
  bench_peak = before;
  f(ctx);
  return (long long)(bench_peak - before);
}

/* The first call of a derivative in the process: RadX keeps a finished tape's buffer for
 * the thread's next call, so only the first call allocates it; its peak is the tape's. */
static long long bench_first_peak = -1;
static void bench_first(bench_fn f, void *ctx) {
  long long p = bench_peak_bytes(f, ctx);
  if (p > bench_first_peak) bench_first_peak = p;
}

/* ---------------------------------------------------------------- timing */
static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* keeps the optimizer from merging or hoisting repeated calls of a pure function */
#define BENCH_BARRIER() __asm__ volatile("" ::: "memory")

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
  double primal_s, grad_s, ratio; /* medians, seconds per call */
  int reps, inner_primal, inner_grad;
  long long primal_peak, grad_peak; /* heap bytes, -1 when not counted */
} bench_timing;

/* number of calls of f that last at least min_sample seconds (at least 1) */
static int bench_calibrate(bench_fn f, void *ctx, double min_sample) {
  int inner = 1;
  for (;;) {
    double t0 = bench_now();
    for (int i = 0; i < inner; i++) { f(ctx); BENCH_BARRIER(); }
    double t = bench_now() - t0;
    if (t >= min_sample || inner >= (1 << 24)) return inner;
    int next = t > 0 ? (int)(inner * 1.2 * min_sample / t) + 1 : inner * 10;
    inner = next > inner * 10 ? inner * 10 : (next <= inner ? inner * 2 : next);
  }
}

static double bench_sample(bench_fn f, void *ctx, int inner) {
  double t0 = bench_now();
  for (int i = 0; i < inner; i++) { f(ctx); BENCH_BARRIER(); }
  return (bench_now() - t0) / inner;
}

/* Times `primal` and `grad` (each a complete call: the gradient wrapper zeroes its shadows
 * itself) in alternating samples, so that both see the same machine load; reports medians. */
static bench_timing bench_time(bench_fn primal, bench_fn grad, void *ctx, const bench_opts *o) {
  bench_timing t;
  t.reps = o->reps;
  primal(ctx); grad(ctx); /* warm-up: page in, fill caches */
  t.primal_peak = bench_peak_bytes(primal, ctx);
  t.grad_peak = bench_peak_bytes(grad, ctx);
  if (bench_first_peak > t.grad_peak) t.grad_peak = bench_first_peak;
  bench_first_peak = -1;
  t.inner_primal = bench_calibrate(primal, ctx, o->min_sample);
  t.inner_grad = bench_calibrate(grad, ctx, o->min_sample);
  double *sp = (double *)malloc(sizeof(double) * (size_t)t.reps);
  double *sg = (double *)malloc(sizeof(double) * (size_t)t.reps);
  double start = bench_now();
  for (int r = 0; r < t.reps; r++) {
    sp[r] = bench_sample(primal, ctx, t.inner_primal);
    sg[r] = bench_sample(grad, ctx, t.inner_grad);
    /* a time budget per measurement: at least 3 samples, then stop after o->budget s */
    if (r >= 2 && bench_now() - start > o->budget) { t.reps = r + 1; break; }
  }
  t.primal_s = bench_median(sp, t.reps);
  t.grad_s = bench_median(sg, t.reps);
  t.ratio = t.grad_s / t.primal_s;
  free(sp); free(sg);
  return t;
}

/* ---------------------------------------------------------------- random numbers */
static unsigned long long bench_rng_state = 0x9E3779B97F4A7C15ull;
static void bench_seed(unsigned long long s) { bench_rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static double bench_uniform(void) { /* splitmix64, in [0, 1) */
  unsigned long long z = (bench_rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static double bench_uniform_pm(void) { return 2.0 * bench_uniform() - 1.0; }
static void bench_fill(double *v, int n, double lo, double hi) {
  for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * bench_uniform();
}

/* ---------------------------------------------------------------- input */
static void *bench_xmalloc(size_t n) {
  void *p = calloc(n ? n : 1, 1);
  if (!p) { fprintf(stderr, "out of memory (%zu bytes)\n", n); exit(3); }
  return p;
}
#define BENCH_ALLOC(T, n) ((T *)bench_xmalloc(sizeof(T) * (size_t)(n)))

static FILE *bench_open(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(3); }
  return f;
}
static double bench_read_double(FILE *f) {
  double v;
  if (fscanf(f, "%lf", &v) != 1) { fprintf(stderr, "bad input: expected a number\n"); exit(3); }
  return v;
}
static int bench_read_int(FILE *f) {
  int v;
  if (fscanf(f, "%d", &v) != 1) { fprintf(stderr, "bad input: expected an integer\n"); exit(3); }
  return v;
}
static void bench_read_doubles(FILE *f, double *v, int n) {
  for (int i = 0; i < n; i++) v[i] = bench_read_double(f);
}

/* whole file with ':' turned into ' ', for the colon-separated hand model files */
static char *bench_slurp_colons(const char *path) {
  FILE *f = bench_open(path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = BENCH_ALLOC(char, n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", path); exit(3); }
  fclose(f);
  for (long i = 0; i < n; i++) if (s[i] == ':') s[i] = ' ';
  return s;
}

/* ---------------------------------------------------------------- checks */
static int bench_nchecks = 0, bench_nfail = 0, bench_total_fail = 0;
static double bench_worst = 0.0; /* worst |ad - ref| / scale seen */
static char bench_check_kinds[128] = "";

static void bench_note_kind(const char *kind) {
  if (!strstr(bench_check_kinds, kind)) {
    if (bench_check_kinds[0]) strncat(bench_check_kinds, "+", sizeof bench_check_kinds - strlen(bench_check_kinds) - 1);
    strncat(bench_check_kinds, kind, sizeof bench_check_kinds - strlen(bench_check_kinds) - 1);
  }
}

/* passes when |ad - ref| <= tol * scale; NaN fails */
static int bench_check(const char *what, const char *kind, double ad, double ref, double scale, double tol) {
  double err = fabs(ad - ref) / (scale > 0 ? scale : 1.0);
  bench_nchecks++;
  bench_note_kind(kind);
  if (!(err <= tol)) {
    bench_nfail++;
    fprintf(stderr, "CHECK FAILED %s (%s): ad=%.17g ref=%.17g rel.err=%.3g tol=%.3g\n", what, kind, ad, ref, err, tol);
    if (!(err == err)) err = INFINITY;
  }
  if (err > bench_worst || err != err) bench_worst = err;
  return err <= tol;
}

/* fourth-order central difference of t -> f(x + t v) at t = 0 */
typedef double (*bench_obj)(void *ctx, const double *x);
static double bench_fd_dir(bench_obj f, void *ctx, const double *x, const double *v, int n, double h) {
  double *w = BENCH_ALLOC(double, n);
  static const double offs[4] = {-2.0, -1.0, 1.0, 2.0};
  double r[4];
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < n; i++) w[i] = x[i] + offs[k] * h * v[i];
    r[k] = f(ctx, w);
  }
  free(w);
  return (r[0] - 8.0 * r[1] + 8.0 * r[2] - r[3]) / (12.0 * h);
}

/* Checks a gradient g of f at x against finite differences along `ndirs` random unit
 * directions: dot(g, v) vs (f(x+hv) - ...)/h. Rounding in f limits the attainable
 * accuracy to about eps |f| / h, which goes into the scale. */
/* directional derivative of the function at x along v, by forward mode */
typedef double (*bench_fwd)(void *ctx, const double *x, const double *v);

/* Checks a gradient g of f at x along `ndirs` random unit directions v: dot(g, v) against a
 * finite difference of t -> f(x + t v) and, when `fwd` is given, against forward mode.
 * Rounding in f limits the finite difference to about eps |f| / h, which goes into its
 * scale; a random direction can be nearly orthogonal to g, so 1e-3 |g| (finite difference)
 * and 1e-7 |g| (forward mode) bound the scale from below. */
static void bench_check_dirs(const char *what, bench_obj f, bench_fwd fwd, void *ctx,
                             const double *x, const double *g, int n, int ndirs, double h,
                             double tol_fd, double tol_fwd) {
  double *v = BENCH_ALLOC(double, n);
  double f0 = fabs(f(ctx, x));
  for (int d = 0; d < ndirs; d++) {
    double nv = 0;
    for (int i = 0; i < n; i++) { v[i] = bench_uniform_pm(); nv += v[i] * v[i]; }
    nv = sqrt(nv);
    double ad = 0, gn = 0;
    for (int i = 0; i < n; i++) { v[i] /= nv; ad += g[i] * v[i]; gn += g[i] * g[i]; }
    gn = sqrt(gn);
    char name[160];
    double fd = bench_fd_dir(f, ctx, x, v, n, h);
    double scale = fmax(fmax(fabs(fd), fabs(ad)), 1e-3 * gn);
    scale = fmax(scale, 1e-9 * f0 / h);
    snprintf(name, sizeof name, "%s, direction %d", what, d);
    bench_check(name, "fd", ad, fd, scale > 0 ? scale : 1.0, tol_fd);
    if (fwd) {
      double fw = fwd(ctx, x, v);
      scale = fmax(fmax(fabs(fw), fabs(ad)), 1e-7 * gn);
      bench_check(name, "fwd", ad, fw, scale > 0 ? scale : 1.0, tol_fwd);
    }
  }
  free(v);
}

/* ---------------------------------------------------------------- report */
static void bench_report(const char *bench, const char *kase, const char *what, bench_timing t,
                         const char *extra_json) {
  printf("{\"primal_heap_peak\": %lld, \"grad_heap_peak\": %lld, ", t.primal_peak, t.grad_peak);
  printf("\"bench\": \"%s\", \"case\": \"%s\", \"derivative\": \"%s\", "
         "\"primal_s\": %.6e, \"grad_s\": %.6e, \"ratio\": %.4f, \"reps\": %d, "
         "\"inner_primal\": %d, \"inner_grad\": %d, \"checks\": %d, \"failed\": %d, "
         "\"check_kinds\": \"%s\", \"max_check_err\": %.3e%s%s}\n",
         bench, kase, what, t.primal_s, t.grad_s, t.ratio, t.reps, t.inner_primal, t.inner_grad,
         bench_nchecks, bench_nfail, bench_check_kinds, bench_worst,
         extra_json ? ", " : "", extra_json ? extra_json : "");
  fflush(stdout);
  /* the check counters describe one report each */
  bench_total_fail += bench_nfail;
  bench_nchecks = bench_nfail = 0;
  bench_worst = 0.0;
  bench_check_kinds[0] = 0;
}

/* exit status of a benchmark: 1 when any check failed */
static int bench_finish(void) {
  bench_total_fail += bench_nfail;
  if (bench_total_fail) {
    fprintf(stderr, "FAILED: %d derivative checks\n", bench_total_fail);
    return 1;
  }
  return 0;
}

#endif
