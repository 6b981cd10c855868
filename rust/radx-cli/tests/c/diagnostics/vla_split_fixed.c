#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_const;
void *__enzyme_augmentfwd(void *, ...);
void __enzyme_reverse(void *, ...);
void sumsq(const double *x, double *y, int n) {
  double *t = malloc((size_t)n * sizeof(double));
  for (int i = 0; i < n; i++) t[i] = x[i] * x[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += t[i];
  free(t);
  *y = s;
}
int main(void) {
  double x[3] = {1, 2, 3}, dx[3] = {0}, y, dy = 1;
  void *tape = __enzyme_augmentfwd((void *)sumsq, enzyme_dup, x, dx, enzyme_dup, &y, &dy, enzyme_const, 3);
  __enzyme_reverse((void *)sumsq, enzyme_dup, x, dx, enzyme_dup, &y, &dy, enzyme_const, 3, tape);
  printf("%g %g %g\n", dx[0], dx[1], dx[2]);
  return 0;
}
