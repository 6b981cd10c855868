/* The module capi_test.c differentiates through libradx (compiled with clang-16 -O2
   -emit-llvm -c at test time). */
#include <math.h>

double f(double x, double y) { return x * x * y + sin(x); }

/* Log-likelihood of n samples under a normal distribution with mean mu and log-sd s. */
double loglik(const double *xs, int n, double mu, double s) {
    double acc = 0.0;
    for (int i = 0; i < n; i++) {
        double z = (xs[i] - mu) * exp(-s);
        acc += -0.5 * z * z - s - 0.91893853320467274178;
    }
    return acc;
}

/* v[i] <- v[i] * a^2 + log1p(v[i]^2), in place. */
void scale(double *v, int n, double a) {
    for (int i = 0; i < n; i++) v[i] = v[i] * a * a + log1p(v[i] * v[i]);
}
