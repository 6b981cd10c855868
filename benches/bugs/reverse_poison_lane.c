/* ENGINE BUG (reverse mode, vectorized input): J^T s is wrong for a Rodrigues rotation
 * matrix; forward mode and finite differences agree with each other.
 *
 *   radx cc -O2 benches/bugs/reverse_poison_lane.c -lm -o /tmp/pl && /tmp/pl
 *   -> rot fwd -0.588769994891225 rev -0.497114768689933 MISMATCH
 *
 * Cause (from the IR): clang's SLP vectorizer produces, in the primal,
 *     %17 = insertelement <2 x double> poison, double %n, i64 0
 *     %27 = fdiv <2 x double> %3, %17          ; lane 1 is poison, and unused
 *     %28 = shufflevector <2 x double> %27, <2 x double> poison, <2 x i32> zeroinitializer
 * The adjoint of %27 multiplies the (zero) adjoint of the unused lane 1 by 1/%17 and adds
 * it into the adjoint of %3: poison reaches d aa[1]. At -O0 after AD the result is right
 * (`clang-16 -O2 -c -emit-llvm` + `radx opt` + `clang-16 -O0`); from -O1 on, LLVM exploits
 * the poison (opt-bisect: VectorCombinePass on main, after the derivative is inlined) and
 * d aa[1] is garbage. Adjoints of vector instructions must not read poison/undef lanes of
 * their operands (mask them, or build the reverse-sweep copies with defined lanes).
 * Found by benches/hand (the global rotation of the hand model). */
#include "../common/bench.h"

static void angle_axis_to_rotation(const double *aa, double *R) {
  double n = sqrt(aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]);
  if (n < 1e-4) {
    for (int i = 0; i < 9; i++) R[i] = (i % 4 == 0);
    return;
  }
  double x = aa[0] / n, y = aa[1] / n, z = aa[2] / n, s = sin(n), c = cos(n);
  R[0] = x * x + (1 - x * x) * c; R[1] = x * y * (1 - c) - z * s; R[2] = x * z * (1 - c) + y * s;
  R[3] = x * y * (1 - c) + z * s; R[4] = y * y + (1 - y * y) * c; R[5] = y * z * (1 - c) - x * s;
  R[6] = x * z * (1 - c) - y * s; R[7] = z * y * (1 - c) + x * s; R[8] = z * z + (1 - z * z) * c;
}
__attribute__((noinline)) void rot(const double *x, double *out) { angle_axis_to_rotation(x, out); }

int main(void) {
  double x[3], tx[3], out[9], dout[9], seed[9], sc[9], gx[3];
  bench_seed(5);
  bench_fill(x, 3, -1, 1);
  bench_fill(seed, 9, -1, 1);
  for (int i = 0; i < 3; i++) { tx[i] = bench_uniform_pm(); gx[i] = 0; }
  memcpy(sc, seed, sizeof sc);
  __enzyme_fwddiff_void((void *)rot, enzyme_dup, x, tx, enzyme_dup, out, dout);
  __enzyme_autodiff_void((void *)rot, enzyme_dup, x, gx, enzyme_dupnoneed, out, sc);
  double a = 0, b = 0;
  for (int i = 0; i < 9; i++) a += seed[i] * dout[i];
  for (int i = 0; i < 3; i++) b += gx[i] * tx[i];
  int ok = fabs(a - b) <= 1e-10 * fmax(1, fabs(a));
  printf("rot fwd %.15g rev %.15g %s\n", a, b, ok ? "ok" : "MISMATCH");
  return !ok;
}
