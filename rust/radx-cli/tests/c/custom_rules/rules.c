/* Custom rules for a function the compiler only sees declared (its body is elsewhere). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
extern int enzyme_dup, enzyme_const;
double __enzyme_autodiff(void *, ...);
double __enzyme_fwddiff(void *, ...);
double blackbox(double x);                 /* x^3, defined in another file */
/* forward rule: {primal, tangent} */
typedef struct { double p, t; } pt;
pt blackbox_fwd(double x, double dx) { pt r = {blackbox(x), 3 * x * x * dx}; return r; }
/* split rule: augmented returns {tape, primal}; reverse gets x, the seed and the tape */
typedef struct { void *tape; double p; } aug;
aug blackbox_aug(double x) { double *t = malloc(sizeof(double)); *t = x; aug a = {t, blackbox(x)}; return a; }
double blackbox_rev(double x, double seed, void *tape) { double xs = *(double *)tape; free(tape); return 3 * xs * xs * seed; }
void *__enzyme_register_derivative_blackbox[2] = {(void *)blackbox, (void *)blackbox_fwd};
void *__enzyme_register_gradient_blackbox[3] = {(void *)blackbox, (void *)blackbox_aug, (void *)blackbox_rev};
static double f(double x) { return sin(x) * blackbox(x); }
int main(void) {
  int bad = 0;
  for (double x = -1.0; x <= 1.5; x += 0.5) {
    double want = cos(x) * x * x * x + sin(x) * 3 * x * x;
    double r = __enzyme_autodiff((void *)f, x), t = __enzyme_fwddiff((void *)f, x, 1.0);
    bad |= fabs(r - want) > 1e-12 || fabs(t - want) > 1e-12;
    printf("%g: reverse %g forward %g want %g\n", x, r, t, want);
  }
  return bad;
}
