/* Reverse mode through copies whose element type only a caller knows: a helper that
 * memcpys its untyped arguments, called directly by the magic call, through a wrapper that
 * passes the pointers on, and with memory a loop fills with floats. The adjoint of a copy
 * is the copy of the adjoints; checked against those analytic values. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

/* Nothing here gives the bytes a type. */
__attribute__((noinline)) static void copy_bytes(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
/* The same for floats: one derivative serves every caller of a function, so callers
 * passing doubles and callers passing floats need a function each. */
__attribute__((noinline)) static void copy_float_bytes(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

/* A wrapper that scales after the copy: its reads give dst a type, not src. */
__attribute__((noinline)) static void copy_then_scale(void *dst, const void *src, size_t n) {
  copy_bytes(dst, src, n);
  double *d = dst;
  for (size_t i = 0; i < n / sizeof(double); i++) d[i] *= 3.0;
}

static void relay(void *dst, const void *src, size_t n) { copy_bytes(dst, src, n); }

int main(void) {
  /* the caller's arrays are doubles */
  double x[3] = {1, 2, 3}, dx[3] = {0}, y[3], dy[3] = {1, 2, 3};
  __enzyme_autodiff((void *)copy_bytes, enzyme_dup, y, dy, enzyme_dup, x, dx, enzyme_const, sizeof x);
  for (int i = 0; i < 3; i++) CHECK(dx[i], i + 1.0);

  /* the type reaches the helper through a wrapper */
  double dx2[3] = {0}, dy2[3] = {0.5, -1, 2};
  __enzyme_autodiff((void *)relay, enzyme_dup, y, dy2, enzyme_dup, x, dx2, enzyme_const, sizeof x);
  CHECK(dx2[0], 0.5);
  CHECK(dx2[1], -1);
  CHECK(dx2[2], 2);

  /* the wrapper's own reads type dst; the copy pairs src with it */
  double dx3[3] = {0}, dy3[3] = {1, 1, 1};
  __enzyme_autodiff((void *)copy_then_scale, enzyme_dup, y, dy3, enzyme_dup, x, dx3, enzyme_const, sizeof x);
  for (int i = 0; i < 3; i++) CHECK(dx3[i], 3.0);

  /* heap memory the caller fills with floats */
  enum { N = 4 };
  float *fx = malloc(N * sizeof(float)), *dfx = calloc(N, sizeof(float));
  float fy[N], dfy[N];
  for (int i = 0; i < N; i++) {
    fx[i] = 0.5f * i;
    dfy[i] = 1.0f + i;
  }
  __enzyme_autodiff((void *)copy_float_bytes, enzyme_dup, fy, dfy, enzyme_dup, fx, dfx, enzyme_const, N * sizeof(float));
  for (int i = 0; i < N; i++) CHECKF(dfx[i], 1.0f + i);
  free(fx);
  free(dfx);
  return RADX_FINISH();
}
