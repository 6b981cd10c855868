/* Reverse mode through a memcpy of structs mixing double, int, pointer and float fields:
 * adjoints are accumulated at the floating-point fields only (from the struct's layout),
 * so shadow pointers and integer fields are left intact. */
#include "radx_fwd.h"

void __enzyme_autodiff(void *, ...);

typedef struct { double w; int id; double *tag; float g; } item;

static double f(const item *in, int n) {
  item tmp[8];
  memcpy(tmp, in, (size_t)n * sizeof(item));
  double s = 0;
  for (int i = 0; i < n; i++) s += tmp[i].w * tmp[i].w * (tmp[i].id + 1) + tmp[i].g * tmp[i].w;
  return s;
}

int main(void) {
  double tags[4];
  item in[4], din[4];
  for (int i = 0; i < 4; i++) {
    in[i] = (item){0.5 + i, i, &tags[i], 0.25f * i};
    din[i] = (item){0, 0, &tags[i], 0};
  }
  __enzyme_autodiff((void *)f, enzyme_dup, in, din, enzyme_const, 4);
  for (int i = 0; i < 4; i++) {
    CHECK_CLOSE(din[i].w, 2 * in[i].w * (i + 1) + in[i].g, 1e-12);
    CHECK_CLOSE(din[i].g, in[i].w, 1e-6);
    CHECK_CLOSE((double)(din[i].tag == &tags[i]), 1.0, 0.0);
    CHECK_CLOSE((double)din[i].id, 0.0, 0.0);
  }
  return RADX_FINISH();
}
