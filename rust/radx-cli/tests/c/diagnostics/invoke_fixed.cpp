#include <cstdio>
extern "C" { extern int enzyme_dup; double __enzyme_fwddiff(void *, ...); }
/* Nothing the differentiated code calls can throw: no invoke, no landing pad. */
double scale(double x) noexcept { return 2 * x; }
double f(double x) { return scale(x) * x; }
int main() {
  std::printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 3.0, 1.0));
  return 0;
}
