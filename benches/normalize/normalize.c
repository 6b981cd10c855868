/* Vector normalization written naively: out[i] = in[i] / mag(in), with mag(in) called inside
 * the loop, so the source is O(n^2). With `restrict` pointers and -fno-math-errno (sqrt does
 * not write errno, so mag only reads memory) clang hoists the call mag(in) out of the loop
 * before AD, and the gradient is O(n)
 * too (AD after optimization). It is measured at n and 8n: the gradient time should grow
 * about 8x, not 64x.
 *
 * usage: normalize [--quick] [--reps R] [N]      (N = 10000 by default; 8N is run too) */
#include "../common/bench.h"

/* noinline: clang hoists the call (readonly, arguments not written in the loop because `out`
 * is restrict); an inlined copy would be a loop nest that LICM does not hoist */
__attribute__((noinline)) static double mag(const double *restrict x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return sqrt(s);
}

__attribute__((noinline)) void normalize(double *restrict out, const double *restrict in, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] / mag(in, n);
}

typedef struct {
  int n;
  double *in, *din, *out, *seed, *seedc, *tin, *tout;
} norm_t;

static void n_primal(void *c) { norm_t *t = (norm_t *)c; normalize(t->out, t->in, t->n); }
/* reverse: din = J^T seed (the seed's copy is consumed) */
static void n_reverse(void *c) {
  norm_t *t = (norm_t *)c;
  memset(t->din, 0, sizeof(double) * (size_t)t->n);
  memcpy(t->seedc, t->seed, sizeof(double) * (size_t)t->n);
  __enzyme_autodiff_void((void *)normalize, enzyme_dupnoneed, t->out, t->seedc, enzyme_dup, t->in,
                         t->din, enzyme_const, t->n);
}
static double n_seeded(void *c, const double *x) {
  norm_t *t = (norm_t *)c;
  double *o = BENCH_ALLOC(double, t->n), s = 0;
  normalize(o, x, t->n);
  for (int i = 0; i < t->n; i++) s += t->seed[i] * o[i];
  free(o);
  return s;
}
static double n_fwd(void *c, const double *x, const double *v) {
  norm_t *t = (norm_t *)c;
  (void)x;
  __enzyme_fwddiff_void((void *)normalize, enzyme_dup, t->out, t->tout, enzyme_dup, t->in, v,
                        enzyme_const, t->n);
  double s = 0;
  for (int i = 0; i < t->n; i++) s += t->seed[i] * t->tout[i];
  return s;
}

static bench_timing run(int n, const bench_opts *o, int ndirs) {
  norm_t t;
  t.n = n;
  t.in = BENCH_ALLOC(double, n); t.din = BENCH_ALLOC(double, n); t.out = BENCH_ALLOC(double, n);
  t.seed = BENCH_ALLOC(double, n); t.seedc = BENCH_ALLOC(double, n);
  t.tin = BENCH_ALLOC(double, n); t.tout = BENCH_ALLOC(double, n);
  bench_seed((unsigned long long)n);
  bench_fill(t.in, n, -1, 1);
  bench_fill(t.seed, n, -1, 1);
  bench_first(n_reverse, &t);
  bench_check_dirs("normalize J^T s", n_seeded, n_fwd, &t, t.in, t.din, n, ndirs, 1e-3, 1e-6, 1e-9);
  bench_timing r = bench_time(n_primal, n_reverse, &t, o);
  free(t.in); free(t.din); free(t.out); free(t.seed); free(t.seedc); free(t.tin); free(t.tout);
  return r;
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  int n = atoi(bench_arg(&o, 0, o.quick ? "2000" : "10000"));
  int ndirs = o.quick ? 2 : 3;
  bench_timing a = run(n, &o, ndirs);
  char kase[32], extra[128];
  snprintf(kase, sizeof kase, "n%d", n);
  snprintf(extra, sizeof extra, "\"n\": %d", n);
  bench_report("normalize", kase, "reverse (1 sweep)", a, extra);
  bench_timing b = run(8 * n, &o, ndirs);
  snprintf(kase, sizeof kase, "n%d", 8 * n);
  /* growth from n to 8n: about 8 when O(n), 64 when O(n^2) */
  snprintf(extra, sizeof extra, "\"n\": %d, \"primal_growth_8x\": %.2f, \"grad_growth_8x\": %.2f",
           8 * n, b.primal_s / a.primal_s, b.grad_s / a.grad_s);
  bench_report("normalize", kase, "reverse (1 sweep)", b, extra);
  return bench_finish();
}
