/* 2D five-point stencil on an nx x ny grid (row major), zero outside, through a TILE x TILE
 * shared-memory tile with a one-cell halo. Launch with TILE x TILE blocks.
 *   v = 0.5 c + 0.125 (n + s + w + e) + 0.25 c^2 - 0.1 w e                       */
#include "gpu.h"

#define TILE 16

static __device__ float at(const float *u, int nx, int ny, int x, int y) {
  return (x >= 0 && x < nx && y >= 0 && y < ny) ? u[y * nx + x] : 0.0f;
}

extern "C" __device__ void stencil_body(int nx, int ny, const float *u, float *v) {
  __shared__ float t[TILE + 2][TILE + 2];
  int tx = threadIdx_x, ty = threadIdx_y;
  int gx = blockIdx_x * TILE + tx, gy = blockIdx_y * TILE + ty;
  t[ty + 1][tx + 1] = at(u, nx, ny, gx, gy);
  if (tx == 0)
    t[ty + 1][0] = at(u, nx, ny, gx - 1, gy);
  if (tx == TILE - 1)
    t[ty + 1][TILE + 1] = at(u, nx, ny, gx + 1, gy);
  if (ty == 0)
    t[0][tx + 1] = at(u, nx, ny, gx, gy - 1);
  if (ty == TILE - 1)
    t[TILE + 1][tx + 1] = at(u, nx, ny, gx, gy + 1);
  SYNC();
  if (gx < nx && gy < ny) {
    float c = t[ty + 1][tx + 1], n = t[ty][tx + 1], s = t[ty + 2][tx + 1];
    float w = t[ty + 1][tx], e = t[ty + 1][tx + 2];
    v[gy * nx + gx] = 0.5f * c + 0.125f * (n + s + w + e) + 0.25f * c * c - 0.1f * w * e;
  }
}

extern "C" __global__ void stencil(int nx, int ny, const float *u, float *v) { stencil_body(nx, ny, u, v); }

#ifdef RADX_ENZYME_REVERSE
extern "C" __device__ void __enzyme_autodiff_stencil(void *, int, int, int, int, int, const float *, float *, int, float *, float *);

extern "C" __global__ void stencil_grad(int nx, int ny, const float *u, float *du, float *v, float *dv) {
  __enzyme_autodiff_stencil((void *)stencil_body, enzyme_const, nx, enzyme_const, ny, enzyme_dup, u, du, enzyme_dup, v, dv);
}
#endif

#ifdef RADX_ENZYME_FORWARD
extern "C" __device__ void __enzyme_fwddiff_stencil(void *, int, int, int, int, int, const float *, const float *, int, float *, float *);

extern "C" __global__ void stencil_tangent(int nx, int ny, const float *u, const float *du, float *v, float *dv) {
  __enzyme_fwddiff_stencil((void *)stencil_body, enzyme_const, nx, enzyme_const, ny, enzyme_dup, u, du, enzyme_dup, v, dv);
}
#endif
