#include <stdio.h>
extern int enzyme_dup, enzyme_allocated, enzyme_tape;
void __enzyme_augmentfwd(void *, ...);
void __enzyme_reverse(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, dx = 0, y, dy = 1;
  int memory;
  __enzyme_augmentfwd((void *)square, enzyme_allocated, sizeof memory, enzyme_tape, &memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  __enzyme_reverse((void *)square, enzyme_allocated, sizeof memory, enzyme_tape, &memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  printf("%g\n", dx);
  return 0;
}
