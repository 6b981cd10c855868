/* Differentiates the Julia-shaped functions of arrays.ll and objects.ll (linked into this
 * module before radx runs) in forward and reverse mode, against analytic derivatives. */
#include <math.h>
#include <stdio.h>
#include <string.h>

extern int enzyme_dup, enzyme_const, enzyme_out;
double __enzyme_autodiff(void *, ...);
void __enzyme_autodiff_void(void *, ...);
double __enzyme_fwddiff(void *, ...);
void __enzyme_fwddiff_void(void *, ...);

double julia_sumsq3_101(void *x);
void julia_axpyB_102(void *y, double a, void *x);
double julia_boxed_201(double x);
double julia_viabox_202(double x);
double julia_memsum_203(double x, long n);
void *jl_test_vector(const double *v, long n);
double *jl_test_data(void *arr);

static int checks, failures;
static void check(const char *what, double got, double want) {
  checks++;
  double scale = fabs(want) > 1 ? fabs(want) : 1;
  if (!(fabs(got - want) <= 1e-12 * scale)) {
    failures++;
    fprintf(stderr, "FAIL %s: got %.17g want %.17g\n", what, got, want);
  }
}

int main(void) {
  enum { N = 5 };
  double xv[N] = {0.3, -1.2, 2.5, 0.7, -0.4}, zero[N] = {0};
  /* sumsq3: reverse and forward */
  void *x = jl_test_vector(xv, N), *dx = jl_test_vector(zero, N);
  __enzyme_autodiff((void *)julia_sumsq3_101, enzyme_dup, x, dx);
  for (int i = 0; i < N; i++) check("sumsq3 reverse", jl_test_data(dx)[i], 6 * xv[i]);
  double dir[N] = {1, -2, 0.5, 3, 0.25}, want = 0;
  for (int i = 0; i < N; i++) want += 6 * xv[i] * dir[i];
  check("sumsq3 forward", __enzyme_fwddiff((void *)julia_sumsq3_101, enzyme_dup, x, jl_test_vector(dir, N)), want);
  check("sumsq3 primal", julia_sumsq3_101(x), 3 * (0.09 + 1.44 + 6.25 + 0.49 + 0.16));

  /* axpy!: y .= a .* x .+ sin.(y), mutating y */
  double yv[N] = {0.1, 0.2, -0.3, 1.4, -2.0}, w[N] = {1, 0.5, -1, 2, 0.25}, a = 1.7;
  void *y = jl_test_vector(yv, N), *dy = jl_test_vector(w, N);
  void *x2 = jl_test_vector(xv, N), *dx2 = jl_test_vector(zero, N);
  double da = __enzyme_autodiff((void *)julia_axpyB_102, enzyme_dup, y, dy, enzyme_out, a, enzyme_dup, x2, dx2);
  double want_da = 0;
  for (int i = 0; i < N; i++) {
    want_da += xv[i] * w[i];
    check("axpy! reverse dx", jl_test_data(dx2)[i], a * w[i]);
    check("axpy! reverse dy", jl_test_data(dy)[i], cos(yv[i]) * w[i]);
    check("axpy! primal", jl_test_data(y)[i], a * xv[i] + sin(yv[i]));
  }
  check("axpy! reverse da", da, want_da);
  void *y3 = jl_test_vector(yv, N), *ty = jl_test_vector(w, N), *tx = jl_test_vector(dir, N);
  double ta = 0.3;
  __enzyme_fwddiff_void((void *)julia_axpyB_102, enzyme_dup, y3, ty, enzyme_dup, a, ta, enzyme_dup, x2, tx);
  for (int i = 0; i < N; i++)
    check("axpy! forward", jl_test_data(ty)[i], ta * xv[i] + a * dir[i] + cos(yv[i]) * w[i]);

  /* GC objects, boxes, Memory */
  for (double t = -1.5; t <= 1.6; t += 0.75) {
    check("boxed reverse", __enzyme_autodiff((void *)julia_boxed_201, t), 2 * t * sin(t) + t * t * cos(t));
    check("boxed forward", __enzyme_fwddiff((void *)julia_boxed_201, t, 1.0), 2 * t * sin(t) + t * t * cos(t));
    check("viabox reverse", __enzyme_autodiff((void *)julia_viabox_202, t), exp(t) * (1 + t));
    check("viabox forward", __enzyme_fwddiff((void *)julia_viabox_202, t, 1.0), exp(t) * (1 + t));
    double s = 0, p = 1;
    for (int k = 1; k <= 6; k++) { s += p; p *= t; }
    check("memsum reverse", __enzyme_autodiff((void *)julia_memsum_203, t, enzyme_const, 6L), s);
    check("memsum forward", __enzyme_fwddiff((void *)julia_memsum_203, t, 1.0, enzyme_const, 6L), s);
  }
  if (failures) {
    fprintf(stderr, "%d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("julia-shaped IR: ok (%d checks)\n", checks);
  return 0;
}
