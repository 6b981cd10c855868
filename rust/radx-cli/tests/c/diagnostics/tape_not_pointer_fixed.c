#include <stdio.h>
extern int enzyme_out;
typedef struct { void *tape; double primal; } aug_t;
aug_t __enzyme_augmentfwd(void *, ...);
double __enzyme_reverse(void *, ...);
double cube(double x) { return x * x * x; }
int main(void) {
  aug_t a = __enzyme_augmentfwd((void *)cube, enzyme_out, 2.0);
  printf("%g %g\n", a.primal, __enzyme_reverse((void *)cube, enzyme_out, 2.0, 1.0, a.tape));
  return 0;
}
