#include <stdio.h>
extern int enzyme_dup;
typedef struct { double x, y, z; } vec3;
typedef struct { vec3 a, b; } vec3x2;
vec3x2 __enzyme_fwddiff_v2(void *, ...);
vec3 curve(double t) { vec3 v = {t, t * t, t * t * t}; return v; }
int main(void) {
  vec3x2 r = __enzyme_fwddiff_v2((void *)curve, enzyme_dup, 2.0, 1.0);
  printf("%g %g %g\n", r.a.x, r.a.y, r.a.z);
  return 0;
}
