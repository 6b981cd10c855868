#include <stdio.h>
#include <string.h>
extern int enzyme_dup, enzyme_const;
double __enzyme_autodiff(void *, ...);
struct rec { double w; long id; };
double f(char *dst, const char *src, int n) {
  memcpy(dst, src, (size_t)n * sizeof(struct rec));
  double s = 0;
  for (int i = 0; i < n; i++) { double w; long id; memcpy(&w, dst + 16 * i, 8); memcpy(&id, dst + 16 * i + 8, 8); s += w * w * (double)id; }
  return s;
}
int main(void) {
  struct rec a[2] = {{1, 1}, {2, 2}}, da[2] = {{0}}, b[2], db[2] = {{0}};
  __enzyme_autodiff((void *)f, enzyme_dup, (char *)b, (char *)db, enzyme_dup, (char *)a, (char *)da, enzyme_const, 2);
  printf("%g %g\n", da[0].w, da[1].w);
  return 0;
}
