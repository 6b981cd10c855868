/* A small stand-in for Julia's runtime: just enough of the entry points the Julia-shaped
 * test modules call, with Julia 1.11's object layouts (type tag at -8, Array =
 * {data, mem, size}, Memory = {length, data, inline data...}). No GC: objects are
 * leaked on purpose (the tests are short). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *fake_task[64];
static void *fake_ptls[8];
static void *fake_safepoint_page[8];
void *jl_tags[4] = {(void *)0x21, (void *)0x22, (void *)0x23, (void *)0x24};
void *ref_tag __asm__("+Base.RefValue{Float64}#21") = &jl_tags[0];
void *holder_tag __asm__("+Holder#22") = &jl_tags[1];
void *memory_tag __asm__("+Memory{Float64}#23") = &jl_tags[2];

void **get_pgcstack(void) __asm__("julia.get_pgcstack");
void **get_pgcstack(void) {
  fake_task[21] = fake_ptls;       /* (pgcstack - 152) + 16 = the ptls field */
  fake_ptls[2] = fake_safepoint_page;
  return &fake_task[38];           /* current_task = pgcstack - 152 bytes */
}

static void *new_object(int64_t size, void *tag) {
  char *p = calloc(1, (size_t)size + 16);
  *(void **)(p + 8) = tag;
  return p + 16;
}

void *gc_alloc_obj(void *task, int64_t size, void *tag) __asm__("julia.gc_alloc_obj");
void *gc_alloc_obj(void *task, int64_t size, void *tag) {
  (void)task;
  void *o = new_object(size, tag);
  memset(o, 0xAB, (size_t)size); /* uninitialised, as in Julia */
  return o;
}

void *jl_typeof_(void *v) __asm__("julia.typeof");
void *jl_typeof_(void *v) { return *(void **)((char *)v - 8); }

void *gc_loaded(void *owner, void *raw) __asm__("julia.gc_loaded");
void *gc_loaded(void *owner, void *raw) { (void)owner; return raw; }

void write_barrier(void *parent, ...) __asm__("julia.write_barrier");
void write_barrier(void *parent, ...) { (void)parent; }

void safepoint(void *page) __asm__("julia.safepoint");
void safepoint(void *page) { (void)page; }

void *ijl_box_float64(double x) {
  double *b = new_object(8, &jl_tags[3]);
  *b = x;
  return b;
}

void *ijl_alloc_genericmemory(void *memtype, int64_t n) {
  int64_t *m = new_object(16 + 8 * n, memtype);
  m[0] = n;
  m[1] = (int64_t)(intptr_t)(m + 2);
  return m;
}

void ijl_bounds_error_ints(void *a, int64_t *idx, int64_t n) {
  fprintf(stderr, "BoundsError: index %lld of %p (%lld indices)\n", (long long)idx[0], a, (long long)n);
  abort();
}

/* Test helpers: a Vector{Float64} wrapping `n` doubles copied from `v`. */
void *jl_test_vector(const double *v, int64_t n) {
  int64_t *mem = ijl_alloc_genericmemory(memory_tag, n);
  memcpy((void *)(intptr_t)mem[1], v, (size_t)n * 8);
  void **arr = new_object(24, &jl_tags[3]);
  arr[0] = (void *)(intptr_t)mem[1];
  arr[1] = mem;
  ((int64_t *)arr)[2] = n;
  return arr;
}

double *jl_test_data(void *arr) { return (double *)((void **)arr)[0]; }
