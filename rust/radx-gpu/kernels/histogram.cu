/* Weighted histogram with float atomics, privatised per block in shared memory:
 *   h[bin[i]] += w[i] * x[i]^2
 * Launch with at least NBINS threads per block; bin[i] in [0, NBINS). */
#include "gpu.h"

#define NBINS 32

extern "C" __device__ void histogram_body(int n, const int *bin, const float *w, const float *x, float *h) {
  __shared__ float local[NBINS];
  int t = threadIdx_x;
  int i = blockIdx_x * blockDim_x + t;
  if (t < NBINS)
    local[t] = 0.0f;
  SYNC();
  if (i < n) {
    float xi = x[i];
    ATOMIC_ADD(&local[bin[i]], w[i] * xi * xi);
  }
  SYNC();
  if (t < NBINS)
    ATOMIC_ADD(&h[t], local[t]);
}

extern "C" __global__ void histogram(int n, const int *bin, const float *w, const float *x, float *h) { histogram_body(n, bin, w, x, h); }

#ifdef RADX_ENZYME_REVERSE
extern "C" __device__ void __enzyme_autodiff_histogram(void *, int, int, int, const int *, int, const float *, float *, int, const float *, float *, int, float *, float *);

extern "C" __global__ void histogram_grad(int n, const int *bin, const float *w, float *dw, const float *x, float *dx, float *h, float *dh) {
  __enzyme_autodiff_histogram((void *)histogram_body, enzyme_const, n, enzyme_const, bin, enzyme_dup, w, dw, enzyme_dup, x, dx, enzyme_dup, h, dh);
}
#endif

#ifdef RADX_ENZYME_FORWARD
extern "C" __device__ void __enzyme_fwddiff_histogram(void *, int, int, int, const int *, int, const float *, const float *, int, const float *, const float *, int, float *, float *);

extern "C" __global__ void histogram_tangent(int n, const int *bin, const float *w, const float *dw, const float *x, const float *dx, float *h, float *dh) {
  __enzyme_fwddiff_histogram((void *)histogram_body, enzyme_const, n, enzyme_const, bin, enzyme_dup, w, dw, enzyme_dup, x, dx, enzyme_dup, h, dh);
}
#endif
