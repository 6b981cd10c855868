#include <stdio.h>
#include <string.h>
extern int enzyme_dup, enzyme_const;
double __enzyme_autodiff(void *, ...);
struct rec { double w; long id; };
double f(struct rec *dst, const struct rec *src, int n) {
  for (int i = 0; i < n; i++) dst[i] = src[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += dst[i].w * dst[i].w * (double)dst[i].id;
  return s;
}
int main(void) {
  struct rec a[2] = {{1, 1}, {2, 2}}, da[2] = {{0}}, b[2], db[2] = {{0}};
  __enzyme_autodiff((void *)f, enzyme_dup, b, db, enzyme_dup, a, da, enzyme_const, 2);
  printf("%g %g\n", da[0].w, da[1].w);
  return 0;
}
