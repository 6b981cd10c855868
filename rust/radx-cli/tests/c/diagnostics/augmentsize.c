#include <stdio.h>
extern int enzyme_dup;
int __enzyme_augmentsize(void *, ...);
void square(const double *x, double *y) { *y = *x * *x; }
int main(void) {
  printf("%d\n", __enzyme_augmentsize((void *)square, enzyme_dup, enzyme_dup));
  return 0;
}
