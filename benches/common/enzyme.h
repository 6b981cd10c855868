/* Enzyme's C calling convention, as the benchmarks use it (see
 * ../shared/docs/enzyme-abi.md). Nothing here is defined: `radx cc` replaces every
 * call to a magic function and every use of a marker. */
#ifndef BENCH_ENZYME_H
#define BENCH_ENZYME_H

extern int enzyme_dup, enzyme_dupnoneed, enzyme_const, enzyme_out;

/* reverse mode: the return value (if a double) is seeded with 1.0, shadows receive += */
double __enzyme_autodiff(void *fn, ...);
void __enzyme_autodiff_void(void *fn, ...);

/* forward mode: returns the tangent of the return value */
double __enzyme_fwddiff(void *fn, ...);
void __enzyme_fwddiff_void(void *fn, ...);

#endif
