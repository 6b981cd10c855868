/* A triangular update, out = Q x with Q unit lower triangular and its strict lower part
 * packed column by column (GMM's Q_k times x_i). At -O2 clang vectorizes the inner
 * `out[j] += l[li++] * x[i]`, whose start moves by one element per column; the gradient is
 * made from the vectorizer's scalar remainder instead (analysis/shifted_vector_loops.rs in
 * radx-core), and must be the same gradient. The forward sweep peels that loop until `out[j]`
 * sits on a 16-byte boundary and vectorizes the rest (analysis/alignment_peel.rs): `out` is
 * passed at both alignments, so rows start on and off a boundary, and a row of one element
 * ends inside the peel. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

NOINLINE static double squared_norm_of_qx(int d, const double *restrict l, const double *restrict x, double *restrict out) {
  for (int i = 0; i < d; i++) out[i] = x[i];
  int li = 0;
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) out[j] += l[li++] * x[i];
  double s = 0;
  for (int i = 0; i < d; i++) s += out[i] * out[i];
  return s;
}

static void check(int d, int shift) {
  double l[200], x[20], outs[21] __attribute__((aligned(16))), dl[200] = {0}, dx[20] = {0}, douts[21] = {0}, qx[20];
  double *out = outs + shift, *dout = douts + shift;
  int nl = d * (d - 1) / 2;
  for (int k = 0; k < nl; k++) l[k] = 0.1 * ((k * 7) % 11) - 0.4;
  for (int i = 0; i < d; i++) x[i] = 0.3 + 0.05 * i * ((i % 3) - 1);
  __enzyme_autodiff((void *)squared_norm_of_qx, enzyme_const, d, enzyme_dup, l, dl, enzyme_dup, x, dx, enzyme_dup, out, dout);
  /* f = |Q x|^2: df/dl(j,i) = 2 (Qx)_j x_i, df/dx = 2 Q^T (Q x). */
  for (int i = 0; i < d; i++) qx[i] = x[i];
  int li = 0;
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) qx[j] += l[li++] * x[i];
  li = 0;
  for (int i = 0; i < d; i++) {
    double g = 2 * qx[i];
    for (int j = i + 1; j < d; j++, li++) {
      CHECK(dl[li], 2 * qx[j] * x[i]);
      g += 2 * qx[j] * l[li];
    }
    CHECK(dx[i], g);
  }
}

int main(void) {
  static const int sizes[] = {2, 3, 5, 8, 13, 20};
  for (int k = 0; k < 6; k++)
    for (int shift = 0; shift < 2; shift++) check(sizes[k], shift);
  return RADX_FINISH();
}
