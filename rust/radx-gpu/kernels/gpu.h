/* The few CUDA/HIP spellings the test kernels need, without CUDA or ROCm headers.
 * Compiled by clang-16 either as CUDA for NVPTX
 *   clang-16 -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -O2 -S -emit-llvm
 * or as HIP for AMDGPU
 *   clang-16 -x hip --cuda-device-only --offload-arch=gfx90a -nogpuinc -nogpulib -O2 -S -emit-llvm
 * With -DRADX_ENZYME_REVERSE (-DRADX_ENZYME_FORWARD) each kernel file also defines an
 * Enzyme-style wrapper kernel <name>_grad (<name>_tangent) that calls __enzyme_autodiff
 * (__enzyme_fwddiff) on the kernel's __device__ body; -DRADX_ENZYME defines both. */
#pragma once

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __noinline__ __attribute__((noinline))

#if defined(__NVPTX__)
#define threadIdx_x __nvvm_read_ptx_sreg_tid_x()
#define threadIdx_y __nvvm_read_ptx_sreg_tid_y()
#define blockIdx_x __nvvm_read_ptx_sreg_ctaid_x()
#define blockIdx_y __nvvm_read_ptx_sreg_ctaid_y()
#define blockDim_x __nvvm_read_ptx_sreg_ntid_x()
#define SYNC() __syncthreads()
#elif defined(__AMDGPU__)
#define threadIdx_x ((int)__builtin_amdgcn_workitem_id_x())
#define threadIdx_y ((int)__builtin_amdgcn_workitem_id_y())
#define blockIdx_x ((int)__builtin_amdgcn_workgroup_id_x())
#define blockIdx_y ((int)__builtin_amdgcn_workgroup_id_y())
#define blockDim_x ((int)__builtin_amdgcn_workgroup_size_x())
/* What HIP's __syncthreads() is: workgroup fences around s_barrier. */
#define SYNC()                                                \
  do {                                                        \
    __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");    \
    __builtin_amdgcn_s_barrier();                             \
    __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");    \
  } while (0)
#else
#error "compile as CUDA for NVPTX or as HIP for AMDGPU"
#endif

/* Float atomic add (atomicAdd): `atomicrmw fadd`. */
#define ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

#ifdef RADX_ENZYME
#define RADX_ENZYME_REVERSE 1
#define RADX_ENZYME_FORWARD 1
#endif

/* Enzyme's activity markers, as device globals. */
extern __device__ int enzyme_dup, enzyme_const, enzyme_dupnoneed, enzyme_out;
