/* Calls the derivatives that capi_test.c generated (their symbol names come from
   names.h, written by capi_test.c) and compares them with analytic values. */
#include <math.h>
#include <stdio.h>

typedef struct { double a, b; } d2;

double fwd_f(double x, double dx, double y, double dy) __asm__(NAME_F);
d2 fwd_f_primal(double x, double dx, double y, double dy) __asm__(NAME_F_PRIMAL);
d2 fwd_loglik(const double *xs, int n, double mu, double dmu1, double dmu2, double s, double ds1, double ds2)
    __asm__(NAME_LOGLIK);
void fwd_scale(double *v, double *dv, int n, double a, double da) __asm__(NAME_SCALE);

static int failures = 0;

static void check(const char *what, double got, double want) {
    int ok = fabs(got - want) <= 1e-10 * (1.0 + fabs(want));
    printf("%-28s %22.15g %22.15g %s\n", what, got, want, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

int main(void) {
    printf("%-28s %22s %22s\n", "derivative", "libradx", "analytic");
    double x = 0.7, y = -1.3;
    check("df/dx", fwd_f(x, 1, y, 0), 2 * x * y + cos(x));
    check("df/dy", fwd_f(x, 0, y, 1), x * x);
    d2 p = fwd_f_primal(x, 0.5, y, 2.0);
    check("f (primal)", p.a, x * x * y + sin(x));
    check("df . (0.5, 2)", p.b, 0.5 * (2 * x * y + cos(x)) + 2.0 * x * x);

    double xs[5] = {1.0, 2.5, -0.5, 3.0, 0.25};
    double mu = 0.9, s = 0.3, dmu = 0, ds = 0;
    for (int i = 0; i < 5; i++) {
        double z = (xs[i] - mu) * exp(-s);
        dmu += z * exp(-s);
        ds += z * z - 1;
    }
    d2 g = fwd_loglik(xs, 5, mu, 1, 0, s, 0, 1); /* width 2: both partials at once */
    check("dloglik/dmu", g.a, dmu);
    check("dloglik/ds", g.b, ds);

    double v[3] = {0.5, -2.0, 1.5}, dv[3] = {1.0, 0.0, -1.0}, v0[3] = {0.5, -2.0, 1.5};
    double a = 1.2, da = 0.5;
    fwd_scale(v, dv, 3, a, da);
    for (int i = 0; i < 3; i++) {
        double dv0 = i == 0 ? 1.0 : i == 1 ? 0.0 : -1.0;
        char name[32];
        snprintf(name, sizeof name, "scale: dv[%d]", i);
        check(name, dv[i], dv0 * a * a + v0[i] * 2 * a * da + 2 * v0[i] * dv0 / (1 + v0[i] * v0[i]));
        snprintf(name, sizeof name, "scale: v[%d]", i);
        check(name, v[i], v0[i] * a * a + log1p(v0[i] * v0[i]));
    }
    printf("%s\n", failures ? "check: FAILED" : "check: all derivatives agree");
    return failures != 0;
}
