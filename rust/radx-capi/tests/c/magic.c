/* Enzyme-style magic calls, lowered through radx_lower_module() by capi_test.c. */
#include <math.h>
#include <stdio.h>

extern int enzyme_const, enzyme_dup;
double __enzyme_fwddiff(void *, ...);

static double energy(const double *q, int n, double k) {
    double e = 0;
    for (int i = 1; i < n; i++) {
        double d = q[i] - q[i - 1];
        e += 0.5 * k * d * d + cos(q[i]);
    }
    return e;
}

int main(void) {
    double q[4] = {0.1, 0.4, -0.2, 0.9}, dq[4] = {0, 0, 1, 0}; /* d/dq[2] */
    double k = 3.0;
    double got = __enzyme_fwddiff((void *)energy, enzyme_dup, q, dq, enzyme_const, 4, enzyme_const, k);
    double want = k * (q[2] - q[1]) - k * (q[3] - q[2]) - sin(q[2]);
    double dk = __enzyme_fwddiff((void *)energy, enzyme_const, q, enzyme_const, 4, k, 1.0);
    double want_dk = 0;
    for (int i = 1; i < 4; i++) want_dk += 0.5 * (q[i] - q[i - 1]) * (q[i] - q[i - 1]);
    int ok = fabs(got - want) < 1e-12 && fabs(dk - want_dk) < 1e-12;
    printf("magic: dE/dq2 %.15g (analytic %.15g), dE/dk %.15g (analytic %.15g): %s\n", got, want, dk, want_dk,
           ok ? "ok" : "FAIL");
    return !ok;
}
