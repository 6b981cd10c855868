#include <stdio.h>
#include <string.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
/* Only the callers say what the bytes are: doubles here, floats there. */
__attribute__((noinline)) void copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
int main(void) {
  double x[2] = {1, 2}, dx[2] = {0}, y[2], dy[2] = {1, 1};
  float fx[2] = {1, 2}, dfx[2] = {0}, fy[2], dfy[2] = {1, 1};
  __enzyme_autodiff((void *)copy, enzyme_dup, y, dy, enzyme_dup, x, dx, enzyme_const, sizeof x);
  __enzyme_autodiff((void *)copy, enzyme_dup, fy, dfy, enzyme_dup, fx, dfx, enzyme_const, sizeof fx);
  printf("%g %g\n", dx[0], dfx[0]);
  return 0;
}
