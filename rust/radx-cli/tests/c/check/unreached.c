#include <math.h>
#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_const, enzyme_out;
double __enzyme_autodiff(void *, ...);
static double norm(const double *x, int n) { double s = 0; for (int i = 0; i < n; i++) s += x[i] * x[i]; return sqrt(s); }
static double nested(double **rows, int n) { double s = 0; for (int i = 0; i < n; i++) s += rows[i][0] * rows[i][1]; return s; }
int main(int argc, char **argv) {
  double x[4] = {1, 2, 3, 4}, dx[4] = {0};
  __enzyme_autodiff((void *)norm, enzyme_dup, x, dx, enzyme_const, 4);
  if (argc > 5) {
    double y[2] = {1, 2}, dy[2] = {0};
    __enzyme_autodiff((void *)norm, enzyme_dup, y, dy, enzyme_const, 2);
  }
  double r0[2] = {1, 2}, r1[2] = {3, 4}, d0[2] = {0}, d1[2] = {0};
  double *rows[2] = {r0, r1}, *drows[2] = {d0, d1};
  __enzyme_autodiff((void *)nested, enzyme_dup, rows, drows, enzyme_const, 2);
  printf("%g %g\n", dx[0], d0[0]);
  return fabs(dx[0] - 1 / sqrt(30.0)) > 1e-12;
}
