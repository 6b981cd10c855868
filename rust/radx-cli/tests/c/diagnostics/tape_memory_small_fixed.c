#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_allocated, enzyme_tape;
size_t __enzyme_augmentsize(void *, ...);
void __enzyme_augmentfwd(void *, ...);
void __enzyme_reverse(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  double x = 3, dx = 0, y, dy = 1;
  size_t size = __enzyme_augmentsize((void *)square, enzyme_dup, enzyme_dup);
  void *memory = malloc(size);
  __enzyme_augmentfwd((void *)square, enzyme_allocated, size, enzyme_tape, memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  __enzyme_reverse((void *)square, enzyme_allocated, size, enzyme_tape, memory, enzyme_dup, &x, &dx, enzyme_dup, &y, &dy);
  free(memory);
  printf("%g\n", dx);
  return 0;
}
