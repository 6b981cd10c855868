/* Block reduction in shared memory: partial[b] = sum over the block's i of x[i]^2.
 * The tree loop runs over blockDim (a launch parameter), so it stays a loop with a barrier
 * in it. blockDim must be a power of two, at most RBLOCK. */
#include "gpu.h"

#define RBLOCK 256

extern "C" __device__ void reduce_body(int n, const float *x, float *partial) {
  __shared__ float s[RBLOCK];
  int t = threadIdx_x;
  int i = blockIdx_x * blockDim_x + t;
  float v = i < n ? x[i] : 0.0f;
  s[t] = v * v;
  SYNC();
  for (int k = blockDim_x / 2; k > 0; k >>= 1) {
    if (t < k)
      s[t] += s[t + k];
    SYNC();
  }
  if (t == 0)
    partial[blockIdx_x] = s[0];
}

extern "C" __global__ void reduce(int n, const float *x, float *partial) { reduce_body(n, x, partial); }

#ifdef RADX_ENZYME_REVERSE
extern "C" __device__ void __enzyme_autodiff_reduce(void *, int, int, int, const float *, float *, int, float *, float *);

extern "C" __global__ void reduce_grad(int n, const float *x, float *dx, float *partial, float *dpartial) {
  __enzyme_autodiff_reduce((void *)reduce_body, enzyme_const, n, enzyme_dup, x, dx, enzyme_dup, partial, dpartial);
}
#endif

#ifdef RADX_ENZYME_FORWARD
extern "C" __device__ void __enzyme_fwddiff_reduce(void *, int, int, int, const float *, const float *, int, float *, float *);

extern "C" __global__ void reduce_tangent(int n, const float *x, const float *dx, float *partial, float *dpartial) {
  __enzyme_fwddiff_reduce((void *)reduce_body, enzyme_const, n, enzyme_dup, x, dx, enzyme_dup, partial, dpartial);
}
#endif
