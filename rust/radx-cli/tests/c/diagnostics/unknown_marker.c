#include <stdio.h>
extern int enzyme_dupp; /* misspelt enzyme_dup */
double __enzyme_fwddiff(void *, ...);
double f(double x) { return x * x * x; }
int main(void) {
  printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dupp, 2.0, 1.0));
  return 0;
}
