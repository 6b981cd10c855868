; Julia 1.11-style IR (hand-written) for code that allocates GC objects:
;   boxed(x)    : a Base.RefValue{Float64} from julia.gc_alloc_obj holding x*x, stored into
;                 a mutable holder object with a write barrier, read back, times sin(x)
;   viabox(x)   : jl_box_float64(exp(x)) unboxed again (a type-unstable round trip)
;   memsum(x, n): Memory{Float64}(undef, n) from jl_alloc_genericmemory, filled with
;                 x^k/k and summed
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128-ni:10:11:12:13"
target triple = "x86_64-pc-linux-gnu"

@"+Base.RefValue{Float64}#21" = external global ptr addrspace(10)
@"+Holder#22" = external global ptr addrspace(10)
@"+Memory{Float64}#23" = external global ptr addrspace(10)

declare ptr @julia.get_pgcstack()
declare noalias nonnull ptr addrspace(10) @julia.gc_alloc_obj(ptr, i64, ptr addrspace(10))
declare void @julia.write_barrier(ptr addrspace(10), ...)
declare ptr addrspace(10) @julia.typeof(ptr addrspace(10))
declare nonnull ptr addrspace(10) @ijl_box_float64(double)
declare nonnull ptr addrspace(10) @ijl_alloc_genericmemory(ptr addrspace(10), i64)
declare noalias nonnull ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10), ptr) #1
declare double @llvm.sin.f64(double)
declare double @llvm.exp.f64(double)

define double @julia_boxed_201(double %"x::Float64") #0 {
top:
  %pgcstack = call ptr @julia.get_pgcstack()
  %ct = getelementptr inbounds i8, ptr %pgcstack, i64 -152
  %tag = load ptr addrspace(10), ptr @"+Base.RefValue{Float64}#21", align 8, !invariant.load !0
  %ref = call noalias nonnull ptr addrspace(10) @julia.gc_alloc_obj(ptr %ct, i64 8, ptr addrspace(10) %tag)
  %refd = addrspacecast ptr addrspace(10) %ref to ptr addrspace(11)
  %xx = fmul double %"x::Float64", %"x::Float64"
  store double %xx, ptr addrspace(11) %refd, align 8
  %htag = load ptr addrspace(10), ptr @"+Holder#22", align 8, !invariant.load !0
  %holder = call noalias nonnull ptr addrspace(10) @julia.gc_alloc_obj(ptr %ct, i64 8, ptr addrspace(10) %htag)
  %hd = addrspacecast ptr addrspace(10) %holder to ptr addrspace(11)
  store ptr addrspace(10) %ref, ptr addrspace(11) %hd, align 8
  call void (ptr addrspace(10), ...) @julia.write_barrier(ptr addrspace(10) %holder, ptr addrspace(10) %ref)
  %ty = call ptr addrspace(10) @julia.typeof(ptr addrspace(10) %holder)
  %back = load ptr addrspace(10), ptr addrspace(11) %hd, align 8
  %backd = addrspacecast ptr addrspace(10) %back to ptr addrspace(11)
  %v = load double, ptr addrspace(11) %backd, align 8
  %s = call double @llvm.sin.f64(double %"x::Float64")
  %r = fmul double %v, %s
  ret double %r
}

define double @julia_viabox_202(double %"x::Float64") #0 {
top:
  %e = call double @llvm.exp.f64(double %"x::Float64")
  %box = call nonnull ptr addrspace(10) @ijl_box_float64(double %e)
  %bd = addrspacecast ptr addrspace(10) %box to ptr addrspace(11)
  %u = load double, ptr addrspace(11) %bd, align 8
  %r = fmul double %u, %"x::Float64"
  ret double %r
}

define double @julia_memsum_203(double %"x::Float64", i64 signext %"n::Int64") #0 {
top:
  %mtag = load ptr addrspace(10), ptr @"+Memory{Float64}#23", align 8, !invariant.load !0
  %mem = call nonnull ptr addrspace(10) @ijl_alloc_genericmemory(ptr addrspace(10) %mtag, i64 %"n::Int64")
  %md = addrspacecast ptr addrspace(10) %mem to ptr addrspace(11)
  %data.f = getelementptr inbounds i8, ptr addrspace(11) %md, i64 8
  %data = load ptr, ptr addrspace(11) %data.f, align 8
  %base = call ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10) %mem, ptr %data)
  %empty = icmp slt i64 %"n::Int64", 1
  br i1 %empty, label %done, label %fill

fill:
  %i = phi i64 [ 0, %top ], [ %i.next, %fill ]
  %p = phi double [ %"x::Float64", %top ], [ %p.next, %fill ]
  %k = add i64 %i, 1
  %kf = sitofp i64 %k to double
  %term = fdiv double %p, %kf
  %e = getelementptr inbounds double, ptr addrspace(13) %base, i64 %i
  store double %term, ptr addrspace(13) %e, align 8
  %p.next = fmul double %p, %"x::Float64"
  %i.next = add i64 %i, 1
  %more = icmp slt i64 %i.next, %"n::Int64"
  br i1 %more, label %fill, label %sum

sum:
  %j = phi i64 [ 0, %fill ], [ %j.next, %sum ]
  %acc = phi double [ 0.000000e+00, %fill ], [ %acc.next, %sum ]
  %ej = getelementptr inbounds double, ptr addrspace(13) %base, i64 %j
  %vj = load double, ptr addrspace(13) %ej, align 8
  %acc.next = fadd double %acc, %vj
  %j.next = add i64 %j, 1
  %again = icmp slt i64 %j.next, %"n::Int64"
  br i1 %again, label %sum, label %done

done:
  %r = phi double [ 0.000000e+00, %top ], [ %acc.next, %sum ]
  ret double %r
}

attributes #0 = { "probe-stack"="inline-asm" }
attributes #1 = { nounwind readnone }
!0 = !{}
