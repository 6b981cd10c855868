/*
 * Forward-mode derivatives with RadX, written in Enzyme's C convention.
 *
 *     target/release/radx cc -O2 examples/forward_demo.c -lm -o forward_demo && ./forward_demo
 *
 * Two real functions of several variables, each with a loop and libm calls:
 *   1. a projectile with quadratic air drag, integrated over two seconds: where it is as a
 *      function of launch speed, launch angle and drag coefficient (all three partials in
 *      one call with enzyme_width 3);
 *   2. the negative log-likelihood of a logistic-regression model over a small data set:
 *      its gradient with respect to the weights, one direction per call, through pointers
 *      (enzyme_dup), with the data marked constant (enzyme_const), plus the primal value
 *      in the same call (enzyme_primal_return).
 * Every derivative is printed beside a central finite difference of the same function and
 * their difference. The exit status is 0 when all of them agree.
 */
#include <math.h>
#include <stdio.h>

/* The magic functions and markers: declared, never defined; radx cc replaces the calls. */
extern int enzyme_dup, enzyme_const, enzyme_width, enzyme_primal_return;
typedef struct { double d_speed, d_angle, d_drag; } vec3;
typedef struct { double value, tangent; } dual;
vec3 __enzyme_fwddiff_vec3(void *fn, ...);
dual __enzyme_fwddiff_dual(void *fn, ...);

/* ---- 1. projectile with quadratic drag ---------------------------------------------- */

enum { STEPS = 2000 };

/* Semi-implicit Euler over 2 s; returns the horizontal distance plus the height reached, a
   smooth function of all three parameters. */
static double flight(double speed, double angle, double drag) {
    const double g = 9.81, dt = 2.0 / STEPS;
    double x = 0, y = 0, vx = speed * cos(angle), vy = speed * sin(angle);
    for (int i = 0; i < STEPS; i++) {
        double v = sqrt(vx * vx + vy * vy);
        vx -= dt * drag * v * vx;
        vy -= dt * (g + drag * v * vy);
        x += dt * vx;
        y += dt * vy;
    }
    return x + y;
}

/* ---- 2. logistic regression ---------------------------------------------------------- */

enum { N = 8, D = 3 };
static const double X[N][D] = {
    {1, 0.5, -1.2}, {1, -0.3, 0.8}, {1, 1.7, 0.1},  {1, -1.1, -0.4},
    {1, 0.2, 1.5},  {1, 0.9, -0.7}, {1, -0.6, 0.3}, {1, 1.2, 1.1},
};
static const double Y[N] = {1, 0, 1, 0, 1, 1, 0, 1};

/* Mean negative log-likelihood plus an L2 penalty: sum log(1 + e^z) - y z over the rows. */
static double nll(const double *w, const double *x, const double *y, int n, double lambda) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        double z = 0;
        for (int j = 0; j < D; j++) z += w[j] * x[i * D + j];
        /* log(1 + e^z), written to be stable for large |z| */
        double softplus = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        loss += softplus - y[i] * z;
    }
    double penalty = 0;
    for (int j = 1; j < D; j++) penalty += w[j] * w[j];
    return loss / n + 0.5 * lambda * penalty;
}

/* ---- reporting ----------------------------------------------------------------------- */

static int failures = 0;

static void report(const char *what, double ad, double fd) {
    double diff = fabs(ad - fd);
    int ok = diff <= 1e-6 * (1 + fabs(fd));
    printf("  %-26s %20.12f %20.12f %10.2e  %s\n", what, ad, fd, diff, ok ? "ok" : "MISMATCH");
    if (!ok) failures++;
}

static void header(const char *title) {
    printf("\n%s\n  %-26s %20s %20s %10s\n", title, "derivative", "radx (forward)", "finite difference", "|diff|");
}

int main(void) {
    /* 1. All three partials of flight() in one call: enzyme_width 3, and each argument is
          followed by three tangents, the rows of the identity. */
    double s = 30.0, a = 0.8, k = 0.02;
    vec3 t = __enzyme_fwddiff_vec3((void *)flight, enzyme_width, 3,
                                   s, 1.0, 0.0, 0.0,
                                   a, 0.0, 1.0, 0.0,
                                   k, 0.0, 0.0, 1.0);
    header("projectile with drag: x(2 s) + y(2 s) as a function of speed, angle, drag");
    printf("  value at speed %.1f m/s, angle %.2f rad, drag %.3f 1/m: %.6f m\n", s, a, k, flight(s, a, k));
    double hs = 1e-5 * s, ha = 1e-6, hk = 1e-6;
    report("d/d speed", t.d_speed, (flight(s + hs, a, k) - flight(s - hs, a, k)) / (2 * hs));
    report("d/d angle", t.d_angle, (flight(s, a + ha, k) - flight(s, a - ha, k)) / (2 * ha));
    report("d/d drag", t.d_drag, (flight(s, a, k + hk) - flight(s, a, k - hk)) / (2 * hk));

    /* 2. The gradient of nll() with respect to w, one direction e_j per call. The data are
          constant; the weights are duplicated (w, dw); the call also returns the value. */
    double w[D] = {0.3, -0.8, 1.1}, lambda = 0.1;
    header("logistic regression: mean negative log-likelihood + L2, gradient in w");
    for (int j = 0; j < D; j++) {
        double dw[D] = {0, 0, 0};
        dw[j] = 1.0;
        dual r = __enzyme_fwddiff_dual((void *)nll, enzyme_primal_return,
                                       enzyme_dup, w, dw,
                                       enzyme_const, &X[0][0],
                                       enzyme_const, Y,
                                       enzyme_const, N,
                                       enzyme_const, lambda);
        if (j == 0) printf("  value at w = (%.1f, %.1f, %.1f): %.9f\n", w[0], w[1], w[2], r.value);
        double h = 1e-6, wp[D], wm[D];
        for (int i = 0; i < D; i++) wp[i] = wm[i] = w[i];
        wp[j] += h;
        wm[j] -= h;
        double fd = (nll(wp, &X[0][0], Y, N, lambda) - nll(wm, &X[0][0], Y, N, lambda)) / (2 * h);
        char name[32];
        snprintf(name, sizeof name, "d/d w[%d]", j);
        report(name, r.tangent, fd);
        if (fabs(r.value - nll(w, &X[0][0], Y, N, lambda)) > 1e-12) {
            printf("  the primal returned with the tangent is wrong: %.15g\n", r.value);
            failures++;
        }
    }

    printf("\n%s\n", failures ? "some derivatives disagree with finite differences"
                              : "all derivatives agree with finite differences");
    return failures != 0;
}
