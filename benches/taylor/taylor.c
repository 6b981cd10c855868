/* Taylor series of -log(1 - x): f(x) = sum_{i=1..N} x^i / i, with pow in the loop, and its
 * derivative sum x^(i-1) by forward mode (one tangent) and by reverse mode (one sweep).
 * The derivative of one scalar input costs about one primal evaluation in either mode
 * (Enzyme's figure: 0.99 of the primal time for both).
 *
 * usage: taylor [--quick] [--reps R] [N [X]]      (N = 10^6, X = 0.9999 by default) */
#include "../common/bench.h"

__attribute__((noinline)) double taylor(double x, int n) {
  double s = 0;
  for (int i = 1; i <= n; i++) s += pow(x, i) / i;
  return s;
}

typedef struct { double x, y, dy_fwd, dy_rev; int n; } taylor_t;

/* taylor() reads no memory: the volatile read keeps clang from hoisting the call out of the
 * timing loop */
#define X_OF(t) (*(volatile double *)&(t)->x)
static void t_primal(void *c) { taylor_t *t = (taylor_t *)c; t->y = taylor(X_OF(t), t->n); }
static void t_forward(void *c) {
  taylor_t *t = (taylor_t *)c;
  t->dy_fwd = __enzyme_fwddiff((void *)taylor, X_OF(t), 1.0, enzyme_const, t->n);
}
static void t_reverse(void *c) {
  taylor_t *t = (taylor_t *)c;
  t->dy_rev = __enzyme_autodiff((void *)taylor, enzyme_out, X_OF(t), enzyme_const, t->n);
}
static double t_flat(void *c, const double *x) { return taylor(x[0], ((taylor_t *)c)->n); }

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  taylor_t t;
  t.n = atoi(bench_arg(&o, 0, o.quick ? "100000" : "1000000"));
  t.x = atof(bench_arg(&o, 1, "0.9999"));
  t_forward(&t);
  bench_first(t_reverse, &t);
  /* derivative: sum_{i=1..N} x^(i-1) = (1 - x^N) / (1 - x) */
  double exact = (1.0 - pow(t.x, t.n)) / (1.0 - t.x);
  bench_check("taylor forward vs closed form", "exact", t.dy_fwd, exact, fabs(exact), 1e-9);
  bench_check("taylor reverse vs forward", "fwd", t.dy_rev, t.dy_fwd, fabs(exact), 1e-9);
  double one = 1.0, fd = bench_fd_dir(t_flat, &t, &t.x, &one, 1, 1e-7);
  bench_check("taylor reverse vs finite difference", "fd", t.dy_rev, fd, fabs(exact), 1e-6);
  char kase[32], extra[64];
  snprintf(kase, sizeof kase, "N%d", t.n);
  snprintf(extra, sizeof extra, "\"x\": %g, \"derivative_value\": %.12g", t.x, t.dy_rev);
  bench_timing tf = bench_time(t_primal, t_forward, &t, &o);
  bench_report("taylor", kase, "forward (1 tangent)", tf, extra);
  bench_check("taylor reverse vs forward", "fwd", t.dy_rev, t.dy_fwd, fabs(exact), 1e-9);
  bench_timing tr = bench_time(t_primal, t_reverse, &t, &o);
  bench_report("taylor", kase, "reverse (1 sweep)", tr, extra);
  return bench_finish();
}
