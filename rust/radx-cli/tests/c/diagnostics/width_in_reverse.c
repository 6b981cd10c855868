#include <stdio.h>
extern int enzyme_dup, enzyme_width;
void __enzyme_autodiff(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, y, dx[2] = {0, 0}, dy[2] = {1, 2};
  __enzyme_autodiff((void *)square, enzyme_width, 2, enzyme_dup, &x, &dx[0], &dx[1], enzyme_dup, &y, &dy[0], &dy[1]);
  printf("%g %g\n", dx[0], dx[1]);
  return 0;
}
