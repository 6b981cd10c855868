#include <stdio.h>
#include <string.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
/* Nothing here reads or writes the bytes with a type: the copy could move anything. */
void copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
/* Nor does the caller of the magic call, which only passes pointers on. */
__attribute__((noinline)) void grad(void *y, void *dy, void *x, void *dx, size_t n) {
  __enzyme_autodiff((void *)copy, enzyme_dup, y, dy, enzyme_dup, x, dx, enzyme_const, n);
}
int main(void) {
  double x[2] = {1, 2}, dx[2] = {0}, y[2], dy[2] = {1, 1};
  grad(y, dy, x, dx, sizeof x);
  printf("%g %g\n", dx[0], dx[1]);
  return 0;
}
