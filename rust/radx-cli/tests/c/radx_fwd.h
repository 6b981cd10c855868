/*
 * radx_fwd.h -- declarations for the forward-mode C programs of radx-cli's tests.
 *
 * The magic functions and markers are never defined: `radx cc` replaces every call
 * and every use (see shared/docs/enzyme-abi.md). Each program includes this header,
 * checks derivatives against analytic values with CHECK_CLOSE and ends with
 * `return RADX_FINISH();`, which exits with 0 when every check passed.
 */
#ifndef RADX_FWD_H
#define RADX_FWD_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int enzyme_dup;
extern int enzyme_dupnoneed;
extern int enzyme_const;
extern int enzyme_out;
extern int enzyme_width;
extern int enzyme_primal_return;

typedef struct { double d0, d1; } radx_d2;
typedef struct { double d0, d1, d2; } radx_d3;
typedef struct { double d0, d1, d2, d3; } radx_d4;
typedef struct { double d0, d1, d2, d3, d4; } radx_d5;

/* Forward mode: the tangent of the return value; with enzyme_primal_return
 * {primal, tangent...}; with enzyme_width N, N tangents. */
double __enzyme_fwddiff(void *fn, ...);
void __enzyme_fwddiff_void(void *fn, ...);
radx_d2 __enzyme_fwddiff_d2(void *fn, ...);
radx_d3 __enzyme_fwddiff_d3(void *fn, ...);
radx_d4 __enzyme_fwddiff_d4(void *fn, ...);
radx_d5 __enzyme_fwddiff_d5(void *fn, ...);

/* float scalars cannot go through "..." (C promotes them to double). */
float __enzyme_fwddiff_f1(void *fn, int m0, float x, float dx);
float __enzyme_fwddiff_f2(void *fn, int m0, float x, float dx, int m1, float y,
                          float dy);
float __enzyme_fwddiff_fp(void *fn, int m0, const float *x, float *dx, int m1,
                          int n);

static int radx_checks = 0;
static int radx_failures = 0;

/* Passes when |actual - expected| <= rel_tol * max(|expected|, 1); NaN fails. */
static inline int radx_check_close(const char *file, int line, const char *a,
                                   double actual, double expected,
                                   double rel_tol) {
  double scale = fabs(expected) > 1.0 ? fabs(expected) : 1.0;
  radx_checks++;
  if (!(fabs(actual - expected) <= rel_tol * scale)) {
    radx_failures++;
    fprintf(stderr, "%s:%d: CHECK_CLOSE(%s) failed: actual=%.17g expected=%.17g\n",
            file, line, a, actual, expected);
    return 0;
  }
  return 1;
}
#define CHECK_CLOSE(actual, expected, tol)                                     \
  radx_check_close(__FILE__, __LINE__, #actual, (double)(actual),             \
                   (double)(expected), (double)(tol))
#define CHECK(actual, expected) CHECK_CLOSE(actual, expected, 1e-10)
#define CHECKF(actual, expected) CHECK_CLOSE(actual, expected, 1e-4)

static inline int radx_finish(const char *file) {
  if (radx_checks == 0) {
    fprintf(stderr, "%s: no checks were executed\n", file);
    return 2;
  }
  if (radx_failures) {
    fprintf(stderr, "%s: FAILED %d of %d checks\n", file, radx_failures,
            radx_checks);
    return 1;
  }
  printf("%s: ok (%d checks)\n", file, radx_checks);
  return 0;
}
#define RADX_FINISH() radx_finish(__FILE__)

/* Keeps helpers as real calls at -O2. */
#define NOINLINE __attribute__((noinline))

/* clang 15 lacks some elementwise builtins (sin, cos and copysign came in 16): the same per
   lane there, so the programs still check their derivatives (of scalar libm calls instead
   of the vector intrinsics). */
#define RADX_PER_LANE(f, x)                                                    \
  ({                                                                           \
    __typeof__(x) v_ = (x);                                                    \
    for (int i_ = 0; i_ < (int)(sizeof v_ / sizeof v_[0]); i_++) v_[i_] = f(v_[i_]); \
    v_;                                                                        \
  })
#if !__has_builtin(__builtin_elementwise_sin)
#define __builtin_elementwise_sin(x) RADX_PER_LANE(sin, x)
#endif
#if !__has_builtin(__builtin_elementwise_cos)
#define __builtin_elementwise_cos(x) RADX_PER_LANE(cos, x)
#endif
#if !__has_builtin(__builtin_elementwise_copysign)
#define __builtin_elementwise_copysign(x, y)                                   \
  ({                                                                           \
    __typeof__(x) v_ = (x), w_ = (y);                                          \
    for (int i_ = 0; i_ < (int)(sizeof v_ / sizeof v_[0]); i_++) v_[i_] = copysign(v_[i_], w_[i_]); \
    v_;                                                                        \
  })
#endif

#endif
