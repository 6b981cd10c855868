/* Code without derivatives inside the differentiated function is left alone: integer
 * arithmetic and arrays, printf, string functions, rand, and integer conversions of
 * active values. */
#include "radx_fwd.h"

static int calls = 0;

static double noisy(double x, int n) {
  int hist[8] = {0};
  int acc = 0;
  for (int i = 0; i < n; i++) {
    acc = acc * 31 + i;
    hist[acc & 7]++;
  }
  printf("noisy: x = %.3f, n = %d, acc = %d, hist[3] = %d\n", x, n, acc, hist[3]);
  calls++;                      /* a store of an integer into a global */
  int k = (int)floor(x * 2.0);  /* an integer made from an active value */
  double y = x * x * (double)(k + (int)strlen("abc"));
  fprintf(stdout, "noisy: y = %.3f\n", y);
  return y + (double)(acc % 5);
}

/* Integer and floating-point data in the same array of structs. */
typedef struct { int id; double w; } item;
static double items(const item *it, int n) {
  double s = 0.0;
  long ids = 0;
  for (int i = 0; i < n; i++) {
    ids += it[i].id;
    if (it[i].id % 2 == 0) s += it[i].w * it[i].w;
  }
  return s + (double)ids;
}

/* rand() is called (inactive); its value only picks a branch of equal derivative. */
static double with_rand(double x) {
  int r = rand() % 2;
  return r ? 3.0 * x : 3.0 * x + 1.0;
}

int main(void) {
  double x = 1.3; /* k = floor(2.6) = 2, y = 5 x^2 */
  CHECK(__enzyme_fwddiff((void *)noisy, enzyme_dup, x, 1.0, enzyme_const, 5), 10 * x);
  CHECK(calls, 1);
  item it[4] = {{1, 0.5}, {2, 1.5}, {3, -2.0}, {4, 2.5}}, dit[4];
  memset(dit, 0, sizeof dit);
  dit[1].w = 1.0;
  dit[3].w = 2.0;
  dit[2].w = 100.0; /* odd id: not used */
  CHECK(__enzyme_fwddiff((void *)items, it, dit, 4), 2 * 1.5 + 2 * 2 * 2.5);
  srand(7);
  for (int i = 0; i < 4; i++) CHECK(__enzyme_fwddiff((void *)with_rand, 0.5 + i, 1.0), 3.0);
  return RADX_FINISH();
}
