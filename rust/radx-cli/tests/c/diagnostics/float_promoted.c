#include <stdio.h>
extern int enzyme_dup;
double __enzyme_fwddiff(void *, ...);
float cube(float x) { return x * x * x; }
int main(void) {
  float x = 2.0f, dx = 1.0f;
  printf("%g\n", __enzyme_fwddiff((void *)cube, enzyme_dup, x, dx));
  return 0;
}
