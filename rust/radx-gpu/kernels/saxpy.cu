/* y[i] = a * x[i] + y[i] */
#include "gpu.h"

extern "C" __device__ void saxpy_body(int n, float a, const float *x, float *y) {
  int i = blockIdx_x * blockDim_x + threadIdx_x;
  if (i < n)
    y[i] = a * x[i] + y[i];
}

extern "C" __global__ void saxpy(int n, float a, const float *x, float *y) { saxpy_body(n, a, x, y); }

#ifdef RADX_ENZYME_REVERSE
/* CUDA device code cannot call variadic functions: one prototype per use (Enzyme matches
 * the prefix of the name). */
extern "C" __device__ void __enzyme_autodiff_saxpy(void *, int, int, int, float, int, const float *, float *, int, float *, float *);

extern "C" __global__ void saxpy_grad(int n, float a, const float *x, float *dx, float *y, float *dy) {
  __enzyme_autodiff_saxpy((void *)saxpy_body, enzyme_const, n, enzyme_const, a, enzyme_dup, x, dx, enzyme_dup, y, dy);
}
#endif

#ifdef RADX_ENZYME_FORWARD
extern "C" __device__ void __enzyme_fwddiff_saxpy(void *, int, int, int, float, float, int, const float *, const float *, int, float *, float *);

extern "C" __global__ void saxpy_tangent(int n, float a, float da, const float *x, const float *dx, float *y, float *dy) {
  __enzyme_fwddiff_saxpy((void *)saxpy_body, enzyme_const, n, enzyme_dup, a, da, enzyme_dup, x, dx, enzyme_dup, y, dy);
}
#endif
