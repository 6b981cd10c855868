; A type-unstable call: the boxed argument goes through dynamic dispatch, which has no
; derivative known ahead of time. RadX must say so, naming the call.
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128-ni:10:11:12:13"
target triple = "x86_64-pc-linux-gnu"

@"jl_global#88" = external global ptr addrspace(10)
@enzyme_dup = external global i32

declare nonnull ptr addrspace(10) @ijl_box_float64(double)
declare nonnull ptr addrspace(10) @ijl_apply_generic(ptr addrspace(10), ptr, i32)
declare nonnull ptr addrspace(10) @julia.call(ptr, ...)
declare double @__enzyme_autodiff(ptr, ...)

define double @julia_unstable_301(double %x) {
top:
  %f = load ptr addrspace(10), ptr @"jl_global#88", align 8
  %b = call nonnull ptr addrspace(10) @ijl_box_float64(double %x)
  %r = call nonnull ptr addrspace(10) (ptr, ...) @julia.call(ptr @ijl_apply_generic, ptr addrspace(10) %f, ptr addrspace(10) %b)
  %rd = addrspacecast ptr addrspace(10) %r to ptr addrspace(11)
  %v = load double, ptr addrspace(11) %rd, align 8
  ret double %v
}

define double @grad(double %x) {
  %d = call double (ptr, ...) @__enzyme_autodiff(ptr @julia_unstable_301, double %x)
  ret double %d
}
