#include <stdio.h>
extern int enzyme_dup, enzyme_width;
double __enzyme_fwddiff(void *, ...);
double cube(double x) { return x * x * x; }
int main(int argc, char **argv) {
  (void)argv;
  printf("%g\n", __enzyme_fwddiff((void *)cube, enzyme_width, argc, enzyme_dup, 2.0, 1.0));
  return 0;
}
