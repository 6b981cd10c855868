#include <stdio.h>
double __enzyme_fwddiff();
int main(void) {
  printf("%g\n", __enzyme_fwddiff());
  return 0;
}
