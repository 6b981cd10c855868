/*
 * Reverse-mode gradients with RadX, written in Enzyme's C convention.
 *
 *     target/release/radx cc -O2 examples/reverse_demo.c -lm -o reverse_demo && ./reverse_demo
 *
 * The energy of a small spring network with a nonlinear (log-barrier) term, as a function
 * of the positions of all its nodes: one __enzyme_autodiff call gives the whole gradient
 * (all 2N partials at about the cost of a few energy evaluations), written into the shadow
 * of the positions (enzyme_dup); the rest lengths are data (enzyme_const). The gradient is
 * checked against central finite differences, one coordinate at a time, and a split-mode
 * call (__enzyme_augmentfwd then __enzyme_reverse with a tape) must give the same result.
 * The exit status is 0 when everything agrees.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int enzyme_dup, enzyme_const;
void __enzyme_autodiff(void *fn, ...);
typedef struct { void *tape; double energy; } augmented;
augmented __enzyme_augmentfwd(void *fn, ...);
void __enzyme_reverse(void *fn, ...);

enum { N = 64 }; /* nodes on a ring, each tied to its two next neighbours */

static double energy(const double *x, const double *rest, int n) {
    double e = 0.0;
    for (int i = 0; i < n; i++) {
        for (int k = 1; k <= 2; k++) {
            int j = (i + k) % n;
            double dx = x[2 * j] - x[2 * i], dy = x[2 * j + 1] - x[2 * i + 1];
            double len = sqrt(dx * dx + dy * dy);
            double stretch = len - rest[i * 2 + k - 1];
            e += 0.5 * stretch * stretch - 0.01 * log(len); /* springs, plus a barrier against collapse */
        }
    }
    return e;
}

int main(void) {
    double x[2 * N], grad[2 * N] = {0}, grad2[2 * N] = {0}, rest[2 * N];
    for (int i = 0; i < N; i++) {
        double t = 2 * M_PI * i / N;
        x[2 * i] = cos(t) * (1 + 0.1 * sin(3 * t));
        x[2 * i + 1] = sin(t) * (1 + 0.1 * cos(5 * t));
        rest[2 * i] = 2 * sin(M_PI / N) * 0.9;
        rest[2 * i + 1] = 2 * sin(2 * M_PI / N) * 1.1;
    }
    printf("spring network, %d nodes: energy %.12f\n", N, energy(x, rest, N));
    __enzyme_autodiff((void *)energy, enzyme_dup, x, grad, enzyme_const, rest, enzyme_const, N);
    augmented a = __enzyme_augmentfwd((void *)energy, enzyme_dup, x, grad2, enzyme_const, rest, enzyme_const, N);
    __enzyme_reverse((void *)energy, enzyme_dup, x, grad2, enzyme_const, rest, enzyme_const, N, 1.0, a.tape);

    int failures = 0;
    printf("\n  %-14s %20s %20s %10s\n", "partial", "radx (reverse)", "finite difference", "|diff|");
    for (int c = 0; c < 2 * N; c++) {
        double h = 1e-6, keep = x[c];
        x[c] = keep + h;
        double ep = energy(x, rest, N);
        x[c] = keep - h;
        double em = energy(x, rest, N);
        x[c] = keep;
        double fd = (ep - em) / (2 * h), diff = fabs(grad[c] - fd);
        int ok = diff <= 1e-6 * (1 + fabs(fd)) && grad2[c] == grad[c];
        failures += !ok;
        if (c < 6 || !ok) {
            char name[32];
            snprintf(name, sizeof name, "dE/d%c[%d]", c % 2 ? 'y' : 'x', c / 2);
            printf("  %-14s %20.12f %20.12f %10.2e  %s\n", name, grad[c], fd, diff, ok ? "ok" : "MISMATCH");
        }
    }
    printf("  ... all %d partials from one reverse sweep; split mode (tape) agrees: %s\n", 2 * N, failures ? "no" : "yes");
    printf("\n%s\n", failures ? "some partials disagree with finite differences" : "all partials agree with finite differences");
    return failures != 0;
}
