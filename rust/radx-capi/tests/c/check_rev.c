/* Calls the reverse-mode derivatives that capi_rev_test.c generated (names from
   names_rev.h) and compares them with analytic values and central differences. */
#include <math.h>
#include <stdio.h>

typedef struct { double a, b; } d2;

d2 rev_f(double x, double y, double seed) __asm__(NAME_REV_F);
void *aug_scale(double *v, double *dv, int n, double a) __asm__(NAME_AUG_SCALE);
double rev_scale(double *v, double *dv, int n, double a, void *tape) __asm__(NAME_REV_SCALE);
d2 rev_loglik(const double *xs, int n, double mu, double s, double seed) __asm__(NAME_REV_LOGLIK);
double loglik(const double *xs, int n, double mu, double s);

static int failures = 0;

static void check(const char *what, double got, double want, double tol) {
    int ok = fabs(got - want) <= tol * (1.0 + fabs(want));
    printf("%-28s %22.15g %22.15g %s\n", what, got, want, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

int main(void) {
    printf("%-28s %22s %22s\n", "adjoint", "libradx", "reference");
    double x = 0.7, y = -1.3;
    d2 g = rev_f(x, y, 2.0);
    check("2 df/dx", g.a, 2 * (2 * x * y + cos(x)), 1e-12);
    check("2 df/dy", g.b, 2 * x * x, 1e-12);

    /* Split mode: the tape travels from the augmented pass to the reverse pass. */
    double v0[3] = {0.5, -2.0, 1.5}, v[3] = {0.5, -2.0, 1.5}, dv[3] = {1.0, 0.0, -1.0}, seed[3] = {1.0, 0.0, -1.0};
    double a = 1.2;
    void *tape = aug_scale(v, dv, 3, a);
    double da = rev_scale(v, dv, 3, a, tape);
    double want_da = 0;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "scale: dv[%d]", i);
        check(name, dv[i], seed[i] * (a * a + 2 * v0[i] / (1 + v0[i] * v0[i])), 1e-12);
        want_da += seed[i] * v0[i] * 2 * a;
    }
    check("scale: da", da, want_da, 1e-12);

    /* Combined mode against central differences. */
    double xs[5] = {1.0, 2.5, -0.5, 3.0, 0.25};
    double mu = 0.9, s = 0.3, h = 1e-6;
    d2 l = rev_loglik(xs, 5, mu, s, 1.0);
    check("dloglik/dmu (fd)", l.a, (loglik(xs, 5, mu + h, s) - loglik(xs, 5, mu - h, s)) / (2 * h), 1e-6);
    check("dloglik/ds (fd)", l.b, (loglik(xs, 5, mu, s + h) - loglik(xs, 5, mu, s - h)) / (2 * h), 1e-6);
    printf("%s\n", failures ? "check_rev: FAILED" : "check_rev: all adjoints agree");
    return failures != 0;
}
