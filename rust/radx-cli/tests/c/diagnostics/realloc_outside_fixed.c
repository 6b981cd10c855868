#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *, ...);
double grow(double *x, int n) {
  /* A new block of the final size instead of growing the caller's. */
  double *y = malloc((size_t)(2 * n) * sizeof(double));
  for (int i = 0; i < n; i++) { y[i] = x[i]; y[n + i] = x[i] * x[i]; }
  double s = 0;
  for (int i = 0; i < 2 * n; i++) s += y[i];
  free(y);
  return s;
}
int main(void) {
  double *x = calloc(2, sizeof(double)), *dx = calloc(2, sizeof(double));
  x[0] = 1; x[1] = 2;
  __enzyme_autodiff((void *)grow, enzyme_dup, x, dx, enzyme_const, 2);
  printf("%g %g\n", dx[0], dx[1]);
  return 0;
}
