/* float variants: float libm functions (sinf, expf, ...), float arithmetic, float
 * arrays through shadow pointers, mixed float/double code, and float vectors. */
#include "radx_fwd.h"

typedef float v4f __attribute__((vector_size(16)));

static float f1(float x) { return sinf(x) * expf(0.5f * x) + sqrtf(x * x + 1.0f) - logf(x + 2.0f); }
static double df1(double x) {
  return cos(x) * exp(0.5 * x) + 0.5 * sin(x) * exp(0.5 * x) + x / sqrt(x * x + 1.0) - 1.0 / (x + 2.0);
}

static float f2(float x, float y) { return powf(x, y) + atan2f(y, x) + tanhf(x * y); }

/* float data, double arithmetic inside (fpext/fptrunc). */
static float mixed(const float *v, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += (double)v[i] * (double)v[i] * (i + 1);
  return (float)sqrt(s);
}

static void vecf(const float *in, float *out) {
  v4f x;
  memcpy(&x, in, sizeof x);
  v4f y = x * x * 0.5f + __builtin_elementwise_sin(x);
  memcpy(out, &y, sizeof y);
}

int main(void) {
  static const float xs[] = {-0.6f, 0.4f, 1.7f};
  for (int i = 0; i < 3; i++) {
    float x = xs[i];
    CHECKF(__enzyme_fwddiff_f1((void *)f1, enzyme_dup, x, 1.0f), df1(x));
    CHECKF(__enzyme_fwddiff_f1((void *)f1, enzyme_dup, x, -2.0f), -2.0 * df1(x));
  }
  float x = 1.5f, y = 0.75f;
  double r2 = (double)x * x + (double)y * y, t = tanh((double)x * y);
  double dfx = y * pow(x, y - 1.0) - y / r2 + (1 - t * t) * y;
  double dfy = pow(x, y) * log(x) + x / r2 + (1 - t * t) * x;
  CHECKF(__enzyme_fwddiff_f2((void *)f2, enzyme_dup, x, 1.0f, enzyme_dup, y, 0.0f), dfx);
  CHECKF(__enzyme_fwddiff_f2((void *)f2, enzyme_dup, x, 0.0f, enzyme_dup, y, 1.0f), dfy);

  float v[3] = {1.0f, -2.0f, 0.5f};
  double s = 1.0 + 8.0 + 0.75;
  for (int k = 0; k < 3; k++) {
    float dv[3] = {0};
    dv[k] = 1.0f;
    CHECKF(__enzyme_fwddiff_fp((void *)mixed, enzyme_dup, v, dv, enzyme_const, 3), (k + 1) * v[k] / sqrt(s));
  }

  float in[4] = {0.5f, -1.0f, 2.0f, 0.25f}, din[4] = {1.0f, 2.0f, 0.0f, -1.0f}, out[4], dout[4] = {0};
  __enzyme_fwddiff_void((void *)vecf, enzyme_dup, in, din, enzyme_dup, out, dout);
  for (int i = 0; i < 4; i++) {
    CHECKF(out[i], 0.5 * in[i] * in[i] + sin(in[i]));
    CHECKF(dout[i], (in[i] + cos(in[i])) * din[i]);
  }
  return RADX_FINISH();
}
