/* <N x double> vector code: clang's vector_size types, elementwise arithmetic,
 * shuffles, element extraction and insertion, vectors by value and through memory. */
#include "radx_fwd.h"

typedef double v4d __attribute__((vector_size(32)));
typedef double v2d __attribute__((vector_size(16)));

/* Through memory: loads and stores of <4 x double>. */
static void poly4(const double *in, double *out) {
  v4d x, y;
  memcpy(&x, in, sizeof x);
  y = x * x * 3.0 - x / (x + 5.0) + 1.5;
  memcpy(out, &y, sizeof y);
}

/* Shuffles and lane arithmetic; returns a scalar. */
static double mix(const double *in) {
  v4d x;
  memcpy(&x, in, sizeof x);
  v4d r = __builtin_shufflevector(x, x, 3, 2, 1, 0);
  v4d p = x * r + __builtin_shufflevector(x, x, 1, 1, 2, 2);
  return p[0] + 2.0 * p[1] + 3.0 * p[2] + 4.0 * p[3];
}

/* A vector passed and returned by value. */
NOINLINE static v2d vscale(v2d x, double s) { return x * x * s; }
static double vcall(double a, double b) {
  v2d v = {a, b};
  v2d w = vscale(v, a + b);
  return w[0] - w[1];
}

/* Elementwise builtins on vectors: llvm.sin, llvm.fabs, ... of <4 x double>. */
static void vbuiltins(const double *in, double *out) {
  v4d x;
  memcpy(&x, in, sizeof x);
  v4d y = __builtin_elementwise_sin(x * x + 1.0) + __builtin_elementwise_abs(x) * x +
          __builtin_elementwise_max(x, x * 0.5) + __builtin_elementwise_floor(x) +
          __builtin_elementwise_cos(x) * __builtin_elementwise_copysign(x, -x);
  v4d z;
  z[0] = y[3];
  z[1] = y[2] * y[1];
  z[2] = y[0];
  z[3] = y[3] + y[0];
  memcpy(out, &z, sizeof z);
}

/* A <4 x double> accumulator carried around a loop (a vector phi), reduced by hand. */
static double vloop(const double *in, int n) {
  v4d acc = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) {
    v4d x;
    memcpy(&x, in + 4 * i, sizeof x);
    acc = acc * 0.5 + x * x;
  }
  return acc[0] + acc[1] + acc[2] + acc[3];
}

int main(void) {
  double in[4] = {0.5, -1.25, 2.0, 3.5}, out[4], dout[4];
  for (int k = 0; k < 4; k++) {
    double din[4] = {0, 0, 0, 0};
    din[k] = 1.0;
    memset(dout, 0, sizeof dout);
    __enzyme_fwddiff_void((void *)poly4, enzyme_dup, in, din, enzyme_dup, out, dout);
    for (int i = 0; i < 4; i++) {
      double x = in[i];
      double d = i == k ? 6.0 * x - 5.0 / ((x + 5.0) * (x + 5.0)) : 0.0;
      CHECK(dout[i], d);
      CHECK(out[i], 3 * x * x - x / (x + 5.0) + 1.5);
    }
    /* mix = sum_i w_i (x_i x_{3-i} + x_{s_i}), w = 1..4, s = 1,1,2,2 */
    static const int s[4] = {1, 1, 2, 2};
    double dm = 0.0;
    for (int i = 0; i < 4; i++) {
      double w = i + 1.0;
      dm += w * ((i == k ? in[3 - i] : 0.0) + (3 - i == k ? in[i] : 0.0) + (s[i] == k ? 1.0 : 0.0));
    }
    CHECK(__enzyme_fwddiff((void *)mix, enzyme_dup, in, din), dm);

    memset(dout, 0, sizeof dout);
    __enzyme_fwddiff_void((void *)vbuiltins, enzyme_dup, in, din, enzyme_dup, out, dout);
    double dy[4];
    for (int i = 0; i < 4; i++) {
      double x = in[i], dx = din[i];
      double mx = x > 0.5 * x ? 1.0 : 0.5;
      /* cos(x) * copysign(x, -x) = -x cos(x) */
      double dcs = x * sin(x) - cos(x);
      dy[i] = (cos(x * x + 1.0) * 2.0 * x + 2.0 * fabs(x) + mx + dcs) * dx;
    }
    double y[4];
    for (int i = 0; i < 4; i++) {
      double x = in[i];
      y[i] = sin(x * x + 1.0) + fabs(x) * x + fmax(x, 0.5 * x) + floor(x) - x * cos(x);
    }
    CHECK(dout[0], dy[3]);
    CHECK(dout[1], dy[2] * y[1] + y[2] * dy[1]);
    CHECK(dout[2], dy[0]);
    CHECK(dout[3], dy[3] + dy[0]);
  }
  static const double ab[][2] = {{1.0, 2.0}, {-0.5, 0.75}};
  for (int i = 0; i < 2; i++) {
    double a = ab[i][0], b = ab[i][1], s = a + b;
    /* vcall = (a^2 - b^2)(a + b) */
    CHECK(__enzyme_fwddiff((void *)vcall, enzyme_dup, a, 1.0, enzyme_dup, b, 0.0), 2 * a * s + (a * a - b * b));
    CHECK(__enzyme_fwddiff((void *)vcall, enzyme_dup, a, 0.0, enzyme_dup, b, 1.0), -2 * b * s + (a * a - b * b));
  }
  double big[12], dbig[12];
  for (int i = 0; i < 12; i++) big[i] = 0.25 * i - 1.0;
  for (int k = 0; k < 12; k += 5) {
    memset(dbig, 0, sizeof dbig);
    dbig[k] = 1.0;
    /* element k is added in iteration k / 4 and halved in each later one */
    CHECK(__enzyme_fwddiff((void *)vloop, enzyme_dup, big, dbig, enzyme_const, 3), 2 * big[k] * pow(0.5, 2 - k / 4));
  }
  return RADX_FINISH();
}
