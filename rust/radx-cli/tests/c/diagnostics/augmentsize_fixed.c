#include <stdio.h>
extern int enzyme_dup;
void *__enzyme_augmentfwd(void *, ...);
void __enzyme_reverse(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, dx = 0, y, dy = 1;
  void *tape = __enzyme_augmentfwd((void *)square, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  __enzyme_reverse((void *)square, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy, tape);
  printf("%g\n", dx);
  return 0;
}
