; Julia 1.11 / GPUCompiler-style IR (hand-written, unoptimized shape) for
;   sumsq3(x::Vector{Float64}) = sum(3 .* x .^ 2)             (reads an Array)
;   axpy!(y::Vector{Float64}, a::Float64, x::Vector{Float64}) (mutates y)
; Arrays are { ptr ref.ptr, ptr addrspace(10) ref.mem, i64 size } objects; elements are
; reached through julia.gc_loaded(mem, data). Bounds errors call ijl_bounds_error_ints.
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128-ni:10:11:12:13"
target triple = "x86_64-pc-linux-gnu"

declare ptr @julia.get_pgcstack()
declare noalias nonnull ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10), ptr) #1
declare void @ijl_bounds_error_ints(ptr addrspace(12), ptr, i64) #2
declare void @julia.safepoint(ptr)

define double @julia_sumsq3_101(ptr addrspace(10) noundef nonnull align 8 dereferenceable(24) %"x::Array") #0 {
top:
  %idx = alloca i64, align 8
  %pgcstack = call ptr @julia.get_pgcstack()
  %ct = getelementptr inbounds i8, ptr %pgcstack, i64 -152
  %ptls.f = getelementptr inbounds i8, ptr %ct, i64 16
  %ptls = load ptr, ptr %ptls.f, align 8
  %sp.f = getelementptr inbounds i8, ptr %ptls, i64 16
  %sp = load ptr, ptr %sp.f, align 8
  %xd = addrspacecast ptr addrspace(10) %"x::Array" to ptr addrspace(11)
  %len.f = getelementptr inbounds i8, ptr addrspace(11) %xd, i64 16
  %len = load i64, ptr addrspace(11) %len.f, align 8
  %empty = icmp slt i64 %len, 1
  br i1 %empty, label %done, label %loop

loop:
  %i = phi i64 [ 1, %top ], [ %i.next, %inbounds ]
  %s = phi double [ 0.000000e+00, %top ], [ %s.next, %inbounds ]
  call void @julia.safepoint(ptr %sp)
  %im1 = add i64 %i, -1
  %ok = icmp ult i64 %im1, %len
  br i1 %ok, label %inbounds, label %oob

oob:
  store i64 %i, ptr %idx, align 8
  %x.cr = addrspacecast ptr addrspace(10) %"x::Array" to ptr addrspace(12)
  call void @ijl_bounds_error_ints(ptr addrspace(12) %x.cr, ptr nonnull %idx, i64 1)
  unreachable

inbounds:
  %raw = load ptr, ptr addrspace(11) %xd, align 8
  %mem.f = getelementptr inbounds i8, ptr addrspace(11) %xd, i64 8
  %mem = load ptr addrspace(10), ptr addrspace(11) %mem.f, align 8
  %base = call ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10) %mem, ptr %raw)
  %off = shl nuw i64 %im1, 3
  %ep = getelementptr inbounds i8, ptr addrspace(13) %base, i64 %off
  %v = load double, ptr addrspace(13) %ep, align 8
  %v2 = fmul double %v, %v
  %t = fmul double %v2, 3.000000e+00
  %s.next = fadd double %s, %t
  %i.next = add i64 %i, 1
  %more = icmp slt i64 %i, %len
  br i1 %more, label %loop, label %done

done:
  %r = phi double [ 0.000000e+00, %top ], [ %s.next, %inbounds ]
  ret double %r
}

define void @julia_axpyB_102(ptr addrspace(10) noundef nonnull %"y::Array", double %"a::Float64", ptr addrspace(10) noundef nonnull %"x::Array") #0 {
top:
  %pgcstack = call ptr @julia.get_pgcstack()
  %yd = addrspacecast ptr addrspace(10) %"y::Array" to ptr addrspace(11)
  %xd = addrspacecast ptr addrspace(10) %"x::Array" to ptr addrspace(11)
  %len.f = getelementptr inbounds i8, ptr addrspace(11) %yd, i64 16
  %len = load i64, ptr addrspace(11) %len.f, align 8
  %empty = icmp slt i64 %len, 1
  br i1 %empty, label %done, label %loop

loop:
  %i = phi i64 [ 0, %top ], [ %i.next, %loop ]
  %xraw = load ptr, ptr addrspace(11) %xd, align 8
  %xmem.f = getelementptr inbounds i8, ptr addrspace(11) %xd, i64 8
  %xmem = load ptr addrspace(10), ptr addrspace(11) %xmem.f, align 8
  %xb = call ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10) %xmem, ptr %xraw)
  %yraw = load ptr, ptr addrspace(11) %yd, align 8
  %ymem.f = getelementptr inbounds i8, ptr addrspace(11) %yd, i64 8
  %ymem = load ptr addrspace(10), ptr addrspace(11) %ymem.f, align 8
  %yb = call ptr addrspace(13) @julia.gc_loaded(ptr addrspace(10) %ymem, ptr %yraw)
  %xe = getelementptr inbounds double, ptr addrspace(13) %xb, i64 %i
  %ye = getelementptr inbounds double, ptr addrspace(13) %yb, i64 %i
  %xv = load double, ptr addrspace(13) %xe, align 8
  %yv = load double, ptr addrspace(13) %ye, align 8
  %ax = fmul double %"a::Float64", %xv
  %sin = call double @llvm.sin.f64(double %yv)
  %new = fadd double %ax, %sin
  store double %new, ptr addrspace(13) %ye, align 8
  %i.next = add i64 %i, 1
  %more = icmp slt i64 %i.next, %len
  br i1 %more, label %loop, label %done

done:
  ret void
}

declare double @llvm.sin.f64(double)

attributes #0 = { "probe-stack"="inline-asm" }
attributes #1 = { nounwind readnone }
attributes #2 = { noreturn }
