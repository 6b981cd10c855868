#include <cstdio>
#include <stdexcept>
extern "C" { extern int enzyme_dup; double __enzyme_fwddiff(void *, ...); }
double checked_sqrt_scale(double x);
double f(double x) {
  try {
    return checked_sqrt_scale(x) * x;
  } catch (const std::exception &) {
    return 0.0;
  }
}
double checked_sqrt_scale(double x) {
  if (x < 0) throw std::domain_error("negative");
  return 2 * x;
}
int main() {
  std::printf("%g\n", __enzyme_fwddiff((void *)f, enzyme_dup, 3.0, 1.0));
  return 0;
}
