/* Derivatives through OpenMP parallel regions (built with -fopenmp): work-shared loops
 * with static and dynamic schedules, a reduction, a critical section, a barrier between
 * two work-shared loops of one region, a region partitioned by hand with the thread
 * number, a helper called inside a region, and forward mode through all of these (forward
 * derivatives fork their regions again: the team size they ran with is checked too). Every
 * derivative is checked against its analytic value; the primal itself is called too, to
 * check that it still computes the same values in parallel. */
#include "radx_fwd.h"

#include <omp.h>

void __enzyme_autodiff(void *, ...);
double __enzyme_autodiff_ret(void *, ...);

enum { N = 301 };

NOINLINE void map(const double *x, double *y, int n) {
#pragma omp parallel for
  for (int i = 0; i < n; i++)
    y[i] = sin(x[i]) * x[i];
}

/* The size of the team the last region of reduce_sum ran with (set by its first thread). */
static int reduce_team;

NOINLINE double reduce_sum(const double *x, int n) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s)
  for (int i = 0; i < n; i++) {
    if (i == 0) reduce_team = omp_get_num_threads();
    s += x[i] * x[i] * x[i];
  }
  return s;
}

NOINLINE double dynamic_weighted(const double *x, const double *w, int n) {
  double s = 0.0;
#pragma omp parallel for schedule(dynamic, 7) reduction(+ : s)
  for (int i = 0; i < n; i++)
    s += w[i] * exp(0.1 * x[i]);
  return s;
}

NOINLINE void critical_sum(const double *x, double *out, int n) {
#pragma omp parallel for
  for (int i = 0; i < n; i++) {
    double v = cos(x[i]);
#pragma omp critical
    *out += v * x[i];
  }
}

/* Two work-shared loops in one region: the second reads what the first wrote, after the
 * implicit barrier. */
NOINLINE void two_phases(const double *x, double *tmp, double *y, int n) {
#pragma omp parallel
  {
#pragma omp for
    for (int i = 0; i < n; i++)
      tmp[i] = x[i] * x[i];
#pragma omp for
    for (int i = 1; i < n - 1; i++)
      y[i] = tmp[i - 1] * tmp[i + 1];
  }
}

/* A scalar captured by value: the region receives the double's bits as an integer. */
NOINLINE void scaled_squares(const double *x, double *y, int n, double a) {
#pragma omp parallel for firstprivate(a)
  for (int i = 0; i < n; i++)
    y[i] = a * x[i] * x[i];
}

NOINLINE double scaled_total(const double *x, double *y, int n, double a) {
  scaled_squares(x, y, n, a);
  double s = 0.0;
  for (int i = 0; i < n; i++) s += y[i];
  return s;
}

NOINLINE static double helper(double a, double b) { return a * exp(b); }

/* Work divided by the thread number, with a helper called inside the region. */
NOINLINE void by_thread(const double *x, double *y, int n) {
#pragma omp parallel
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int i = t; i < n; i += nt)
      y[i] = helper(x[i], 0.5 * x[i]);
  }
}

int main(void) {
  static double x[N], dx[N], y[N], dy[N], w[N], tmp[N], dtmp[N];
  for (int i = 0; i < N; i++) {
    x[i] = 0.01 * i - 1.2;
    w[i] = 0.5 + 0.25 * cos(0.3 * i);
  }

  /* map: dx_i = w_i (cos x_i x_i + sin x_i); the primal still fills y. */
  for (int i = 0; i < N; i++) dx[i] = 0.0, dy[i] = w[i], y[i] = 0.0;
  __enzyme_autodiff((void *)map, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, N);
  for (int i = 0; i < N; i++) {
    CHECK(y[i], sin(x[i]) * x[i]);
    CHECK(dx[i], w[i] * (cos(x[i]) * x[i] + sin(x[i])));
    CHECK(dy[i], 0.0);
  }

  /* reduction: ds/dx_i = 3 x_i^2, and the returned primal is right. */
  for (int i = 0; i < N; i++) dx[i] = 0.0;
  __enzyme_autodiff((void *)reduce_sum, enzyme_dup, x, dx, enzyme_const, N);
  double s = 0.0;
  for (int i = 0; i < N; i++) {
    CHECK(dx[i], 3.0 * x[i] * x[i]);
    s += x[i] * x[i] * x[i];
  }
  CHECK(reduce_sum(x, N), s);

  /* dynamic schedule: chunks handed out at run time. */
  for (int i = 0; i < N; i++) dx[i] = 0.0;
  __enzyme_autodiff((void *)dynamic_weighted, enzyme_dup, x, dx, enzyme_const, w, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dx[i], w[i] * 0.1 * exp(0.1 * x[i]));

  /* critical section accumulating into a shared output. */
  double out = 0.0, dout = 1.5;
  for (int i = 0; i < N; i++) dx[i] = 0.0;
  __enzyme_autodiff((void *)critical_sum, enzyme_dup, x, dx, enzyme_dup, &out, &dout, enzyme_const, N);
  double expect_out = 0.0;
  for (int i = 0; i < N; i++) {
    CHECK(dx[i], 1.5 * (cos(x[i]) - sin(x[i]) * x[i]));
    expect_out += cos(x[i]) * x[i];
  }
  CHECK(out, expect_out);
  CHECK(dout, 1.5);

  /* two phases: y_i = x_{i-1}^2 x_{i+1}^2, seeded with w. */
  for (int i = 0; i < N; i++) dx[i] = 0.0, dtmp[i] = 0.0, dy[i] = w[i], y[i] = 0.0;
  __enzyme_autodiff((void *)two_phases, enzyme_dup, x, dx, enzyme_dup, tmp, dtmp, enzyme_dup, y, dy, enzyme_const, N);
  for (int k = 0; k < N; k++) {
    double e = 0.0;
    if (k + 1 <= N - 2) e += w[k + 1] * 2.0 * x[k] * x[k + 2] * x[k + 2];
    if (k - 1 >= 1) e += w[k - 1] * 2.0 * x[k] * x[k - 2] * x[k - 2];
    CHECK(dx[k], e);
  }
  CHECK(y[5], x[4] * x[4] * x[6] * x[6]);

  /* by thread: y_i = x_i exp(x_i / 2), dy_i/dx_i = exp(x_i / 2) (1 + x_i / 2). */
  for (int i = 0; i < N; i++) dx[i] = 0.0, dy[i] = w[i], y[i] = 0.0;
  __enzyme_autodiff((void *)by_thread, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, N);
  for (int i = 0; i < N; i++) {
    CHECK(y[i], x[i] * exp(0.5 * x[i]));
    CHECK(dx[i], w[i] * exp(0.5 * x[i]) * (1.0 + 0.5 * x[i]));
  }

  /* an active scalar captured by value, in both modes */
  for (int i = 0; i < N; i++) dx[i] = 0.0, dy[i] = 0.0;
  double da = __enzyme_autodiff_ret((void *)scaled_total, enzyme_dup, x, dx, enzyme_dup, y, dy, enzyme_const, N, 1.5);
  double sum_sq = 0.0, sum_xw = 0.0;
  for (int i = 0; i < N; i++) {
    CHECK(dx[i], 3.0 * x[i]);
    sum_sq += x[i] * x[i];
    sum_xw += x[i] * w[i];
  }
  CHECK(da, sum_sq);
  double ta = __enzyme_fwddiff((void *)scaled_total, enzyme_dup, x, w, enzyme_dup, y, dy, enzyme_const, N, 1.5, 0.5);
  CHECK(ta, 3.0 * sum_xw + 0.5 * sum_sq);

  /* forward mode through the reduction: the directional derivative along w. */
  double t = __enzyme_fwddiff((void *)reduce_sum, enzyme_dup, x, w, enzyme_const, N);
  double expect_t = 0.0;
  for (int i = 0; i < N; i++) expect_t += 3.0 * x[i] * x[i] * w[i];
  CHECK(t, expect_t);

  /* ... computed by a team as large as the primal's, not serialized. */
  CHECK(reduce_team, omp_get_max_threads());

  /* forward mode through the critical section, the barrier between two loops, and the
   * region divided by thread number with a helper. */
  out = 0.0;
  double tout = 0.0, expect_tout = 0.0;
  __enzyme_fwddiff_void((void *)critical_sum, enzyme_dup, x, w, enzyme_dup, &out, &tout, enzyme_const, N);
  for (int i = 0; i < N; i++) expect_tout += w[i] * (cos(x[i]) - sin(x[i]) * x[i]);
  CHECK(tout, expect_tout);
  CHECK(out, expect_out);
  for (int i = 0; i < N; i++) dy[i] = 0.0, dtmp[i] = 0.0;
  __enzyme_fwddiff_void((void *)two_phases, enzyme_dup, x, w, enzyme_dup, tmp, dtmp, enzyme_dup, y, dy, enzyme_const, N);
  for (int i = 1; i < N - 1; i++) {
    double a = x[i - 1] * x[i - 1], b = x[i + 1] * x[i + 1];
    CHECK(dy[i], 2.0 * x[i - 1] * w[i - 1] * b + a * 2.0 * x[i + 1] * w[i + 1]);
  }
  for (int i = 0; i < N; i++) dy[i] = 0.0;
  __enzyme_fwddiff_void((void *)by_thread, enzyme_dup, x, w, enzyme_dup, y, dy, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dy[i], w[i] * exp(0.5 * x[i]) * (1.0 + 0.5 * x[i]));

  /* forward mode through the map: tangents of every y_i. */
  for (int i = 0; i < N; i++) dy[i] = 0.0;
  __enzyme_fwddiff_void((void *)map, enzyme_dup, x, w, enzyme_dup, y, dy, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dy[i], w[i] * (cos(x[i]) * x[i] + sin(x[i])));

  /* The primal, outside any derivative, runs its regions in parallel as compiled. */
  int team = 0;
#pragma omp parallel
#pragma omp single
  team = omp_get_num_threads();
  CHECK(team >= 1, 1);
  return RADX_FINISH();
}
