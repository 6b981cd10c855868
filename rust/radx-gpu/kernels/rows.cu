/* A kernel calling __device__ functions that contain loops:
 *   out[i] = p(|A[i, :]|), p(r) = c[0] + c[1] r + ... + c[deg] r^deg (Horner)
 * A is n x m, row major. The coefficients c are read by every thread. */
#include "gpu.h"

extern "C" __device__ __noinline__ float rownorm(const float *a, int m) {
  float s = 0.0f;
  for (int j = 0; j < m; j++)
    s += a[j] * a[j];
  return __builtin_sqrtf(s);
}

extern "C" __device__ __noinline__ float horner(const float *c, int deg, float r) {
  float p = c[deg];
  for (int k = deg - 1; k >= 0; k--)
    p = p * r + c[k];
  return p;
}

extern "C" __device__ void rows_body(int n, int m, int deg, const float *A, const float *c, float *out) {
  int i = blockIdx_x * blockDim_x + threadIdx_x;
  if (i < n)
    out[i] = horner(c, deg, rownorm(A + (long)i * m, m));
}

extern "C" __global__ void rows(int n, int m, int deg, const float *A, const float *c, float *out) { rows_body(n, m, deg, A, c, out); }

#ifdef RADX_ENZYME_REVERSE
extern "C" __device__ void __enzyme_autodiff_rows(void *, int, int, int, int, int, int, int, const float *, float *, int, const float *, float *, int, float *, float *);

extern "C" __global__ void rows_grad(int n, int m, int deg, const float *A, float *dA, const float *c, float *dc, float *out, float *dout) {
  __enzyme_autodiff_rows((void *)rows_body, enzyme_const, n, enzyme_const, m, enzyme_const, deg, enzyme_dup, A, dA, enzyme_dup, c, dc, enzyme_dup, out, dout);
}
#endif

#ifdef RADX_ENZYME_FORWARD
extern "C" __device__ void __enzyme_fwddiff_rows(void *, int, int, int, int, int, int, int, const float *, const float *, int, const float *, const float *, int, float *, float *);

extern "C" __global__ void rows_tangent(int n, int m, int deg, const float *A, const float *dA, const float *c, const float *dc, float *out, float *dout) {
  __enzyme_fwddiff_rows((void *)rows_body, enzyme_const, n, enzyme_const, m, enzyme_const, deg, enzyme_dup, A, dA, enzyme_dup, c, dc, enzyme_dup, out, dout);
}
#endif
