#include <stdio.h>
extern int enzyme_dup;
typedef struct { double x, y, z; } vec3;
vec3 __enzyme_fwddiff_v(void *, ...);
vec3 curve(double t) { vec3 v = {t, t * t, t * t * t}; return v; }
int main(void) {
  vec3 r = __enzyme_fwddiff_v((void *)curve, enzyme_dup, 2.0, 1.0);
  printf("%g %g %g\n", r.x, r.y, r.z);
  return 0;
}
