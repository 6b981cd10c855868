#include <stdio.h>
extern int enzyme_dup;
void __enzyme_autodiff(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, y, dx[2] = {0, 0}, dy[2] = {1, 2};
  /* One reverse pass per seed. */
  for (int k = 0; k < 2; k++) __enzyme_autodiff((void *)square, enzyme_dup, &x, &dx[k], enzyme_dup, &y, &dy[k]);
  printf("%g %g\n", dx[0], dx[1]);
  return 0;
}
