/* The worked example of docs/getting-started.md:
 *     radx cc -O2 examples/getting_started.c -lm -o getting_started && ./getting_started */
#include <math.h>
#include <stdio.h>

/* Markers and magic functions: declared, never defined (radx cc removes every use). */
extern int enzyme_dup, enzyme_const, enzyme_width, enzyme_primal_return;
double __enzyme_fwddiff(void *fn, ...);                       /* one tangent */
typedef struct { double primal, tangent; } with_primal;
with_primal __enzyme_fwddiff_primal(void *fn, ...);           /* enzyme_primal_return */
typedef struct { double d0, d1; } two;
two __enzyme_fwddiff_two(void *fn, ...);                      /* enzyme_width 2 */
void __enzyme_fwddiff_void(void *fn, ...);                    /* functions returning void */
extern int enzyme_out;
typedef struct { double dx, dy; } grad2;
grad2 __enzyme_autodiff_grad2(void *fn, ...);                 /* reverse: two adjoints */
void __enzyme_autodiff_void(void *fn, ...);                   /* reverse: adjoints in shadows */

static double f(double x, double y) { return sin(x) * y + x * x; }

static double sumsq(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i] * v[i];
    return s;
}

/* out[i] = in[i] / |in| */
static void normalize(const double *in, double *out, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += in[i] * in[i];
    double mag = sqrt(s);
    for (int i = 0; i < n; i++) out[i] = in[i] / mag;
}

int main(void) {
    double x = 1.0, y = 2.0;

    /* Default activities: each double is followed by its tangent. (dx, dy) = (1, 0). */
    double dfdx = __enzyme_fwddiff((void *)f, x, 1.0, y, 0.0);
    printf("df/dx = %.6f   (analytic cos(x) y + 2x = %.6f)\n", dfdx, cos(x) * y + 2 * x);

    /* y constant: it is passed alone. */
    double dfdx2 = __enzyme_fwddiff((void *)f, x, 1.0, enzyme_const, y);
    printf("df/dx = %.6f   (y marked enzyme_const)\n", dfdx2);

    /* The value and the tangent in one call. */
    with_primal p = __enzyme_fwddiff_primal((void *)f, enzyme_primal_return, x, 0.0, y, 1.0);
    printf("f = %.6f, df/dy = %.6f   (analytic sin(x) = %.6f)\n", p.primal, p.tangent, sin(x));

    /* Both partials in one call: width 2, each active argument takes two tangents. */
    two g = __enzyme_fwddiff_two((void *)f, enzyme_width, 2, x, 1.0, 0.0, y, 0.0, 1.0);
    printf("grad f = (%.6f, %.6f)\n", g.d0, g.d1);

    /* Pointers: enzyme_dup passes (pointer, shadow); the output's shadow receives J * din. */
    double in[3] = {3, 0, 4}, din[3] = {1, 0, 0}, out[3], dout[3];
    __enzyme_fwddiff_void((void *)normalize, enzyme_dup, in, din, enzyme_dup, out, dout, enzyme_const, 3);
    printf("normalize: out = (%.2f, %.2f, %.2f), d out / d in[0] = (%.4f, %.4f, %.4f)\n",
           out[0], out[1], out[2], dout[0], dout[1], dout[2]);

    /* Reverse mode: the whole gradient in one call. Doubles default to enzyme_out (their
       adjoints are returned); pointers to enzyme_dup (adjoints are added into the shadow). */
    grad2 r = __enzyme_autodiff_grad2((void *)f, x, y);
    printf("reverse: grad f = (%.6f, %.6f)\n", r.dx, r.dy);
    double v[3] = {1, -2, 0.5}, dv[3] = {0, 0, 0};
    __enzyme_autodiff_void((void *)sumsq, enzyme_dup, v, dv, enzyme_const, 3);
    printf("reverse: grad sumsq = (%.1f, %.1f, %.1f)\n", dv[0], dv[1], dv[2]);
    return 0;
}
