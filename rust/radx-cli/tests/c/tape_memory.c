/* Split mode with the tape in the caller's memory, as libCEED-style code writes it:
 * the size comes from __enzyme_augmentsize, the augmented forward stores the tape in
 * memory of that size (enzyme_allocated, size, enzyme_tape, memory), and the reverse reads
 * it back from there. Also `enzyme_tape, tape` in the reverse with the tape the augmented
 * forward returned. Gradients checked against analytic values. */
#include "radx_fwd.h"

extern int enzyme_allocated;
extern int enzyme_tape;

size_t __enzyme_augmentsize(void *, ...);
void __enzyme_augmentfwd(void *, ...);
double __enzyme_augmentfwd_primal(void *, ...);
void *__enzyme_augmentfwd_tape(void *, ...);
void __enzyme_reverse(void *, ...);
double __enzyme_reverse_d(void *, ...);
radx_d2 __enzyme_reverse_d2(void *, ...);

static void square(const double *x, double *y) { *y = *x * *x; }

/* The tape must carry what the input held: x is overwritten between the sweeps. */
static void sum_sin_times(double *x, double *s, int n) {
  double acc = 0;
  for (int i = 0; i < n; i++) acc += sin(x[i]) * x[i];
  *s = acc;
  for (int i = 0; i < n; i++) x[i] = 0;
}

static double f(double a, double b) { return a * a * b + sin(a * b); }

int main(void) {
  /* void function, tape memory from malloc of the queried size */
  size_t size = __enzyme_augmentsize((void *)square, enzyme_dup, enzyme_dup);
  CHECK(size >= sizeof(void *), 1);
  void *memory = malloc(size);
  double x = 3, dx = 0, y = 0, dy = 1;
  __enzyme_augmentfwd((void *)square, enzyme_allocated, size, enzyme_tape, memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  CHECK(y, 9);
  __enzyme_reverse((void *)square, enzyme_allocated, size, enzyme_tape, memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  CHECK(dx, 6);
  free(memory);

  /* a loop whose tape holds the overwritten inputs; the memory is on the stack */
  enum { N = 5 };
  double v[N], dv[N] = {0}, keep[N], s = 0, ds = 1;
  for (int i = 0; i < N; i++) keep[i] = v[i] = 0.3 * i - 0.4;
  char stack_memory[sizeof(void *)];
  __enzyme_augmentfwd((void *)sum_sin_times, enzyme_allocated, sizeof stack_memory, enzyme_tape, stack_memory,
                      enzyme_dup, v, dv, enzyme_dup, &s, &ds, enzyme_const, N);
  double expected_s = 0;
  for (int i = 0; i < N; i++) expected_s += sin(keep[i]) * keep[i];
  CHECK(s, expected_s);
  __enzyme_reverse((void *)sum_sin_times, enzyme_allocated, sizeof stack_memory, enzyme_tape, stack_memory,
                   enzyme_dup, v, dv, enzyme_dup, &s, &ds, enzyme_const, N);
  for (int i = 0; i < N; i++) CHECK(dv[i], cos(keep[i]) * keep[i] + sin(keep[i]));

  /* active scalars: the augmented forward returns only the primal, the reverse the
   * adjoints scaled by the seed */
  double a = 0.7, b = 1.3;
  void *scalar_memory = malloc(__enzyme_augmentsize((void *)f, enzyme_out, enzyme_out));
  double primal = __enzyme_augmentfwd_primal((void *)f, enzyme_allocated, sizeof(void *), enzyme_tape, scalar_memory, enzyme_out, a, enzyme_out, b);
  CHECK(primal, f(a, b));
  radx_d2 g = __enzyme_reverse_d2((void *)f, enzyme_allocated, sizeof(void *), enzyme_tape, scalar_memory, enzyme_out, a, enzyme_out, b, -1.5);
  CHECK(g.d0, -1.5 * (2 * a * b + b * cos(a * b)));
  CHECK(g.d1, -1.5 * (a * a + a * cos(a * b)));
  free(scalar_memory);

  /* enzyme_tape in the reverse with the tape the augmented forward returned */
  double x2 = -2, dx2 = 0, y2 = 0, dy2 = 0.5;
  void *tape = __enzyme_augmentfwd_tape((void *)square, enzyme_dup, &x2, &dx2, enzyme_dup, &y2, &dy2);
  __enzyme_reverse((void *)square, enzyme_tape, tape, enzyme_dup, &x2, &dx2, enzyme_dup, &y2, &dy2);
  CHECK(dx2, 2 * -2 * 0.5);
  return RADX_FINISH();
}
