/* Structs by value (extractvalue/insertvalue at -O2, byval/sret memory at -O0), struct
 * returns (in registers and through sret, also of the differentiated function itself),
 * and structs through pointers. */
#include "radx_fwd.h"

typedef struct { double a, b; } pair;
typedef struct { double x, y, z; } vec3;
typedef struct { double w; int n; double v[3]; } mixed;
typedef struct { pair p, t; } pair2;
pair2 __enzyme_fwddiff_pair2(void *fn, ...);
typedef struct { vec3 a, b; } vec3x2;
typedef struct { vec3 a, b, c; } vec3x3;
vec3 __enzyme_fwddiff_vec3(void *fn, ...);
vec3x2 __enzyme_fwddiff_vec3x2(void *fn, ...);
vec3x3 __enzyme_fwddiff_vec3x3(void *fn, ...);

/* Two doubles by value: passed in registers ({double, double} or two doubles). */
NOINLINE static pair rotate(pair p, double t) {
  pair r = {p.a * cos(t) - p.b * sin(t), p.a * sin(t) + p.b * cos(t)};
  return r;
}
static double use_rotate(double a, double b, double t) {
  pair p = {a, b};
  pair q = rotate(p, t);
  return q.a * q.a + 3.0 * q.b;
}

/* Three doubles: by value through memory (byval) and returned through sret. */
NOINLINE static vec3 cross(vec3 u, vec3 v) {
  vec3 r = {u.y * v.z - u.z * v.y, u.z * v.x - u.x * v.z, u.x * v.y - u.y * v.x};
  return r;
}
static double triple(double s) {
  vec3 u = {s, 2.0 * s, 1.0}, v = {1.0, s * s, -s};
  vec3 c = cross(u, v);
  return c.x + 2.0 * c.y + 3.0 * c.z;
}

/* A pair returned from the differentiated function itself: the tangent is a pair. */
static pair polar(double r, double t) {
  pair p = {r * cos(t), r * sin(t)};
  return p;
}

/* The differentiated function itself returns three doubles through a hidden sret
 * pointer: the magic call's result receives the tangent ({primal, tangent...} with
 * enzyme_primal_return, one tangent per lane with enzyme_width). */
static vec3 make(double t, double s) {
  vec3 v = {t * s, t * t, sin(t)};
  return v;
}

/* A struct with an integer field, through a pointer. */
static double weigh(const mixed *m) {
  double s = 0.0;
  for (int i = 0; i < m->n; i++) s += m->v[i] * m->v[i];
  return m->w * s;
}

/* Writes a struct through an output pointer. */
static void normalize(const vec3 *in, vec3 *out) {
  double n = sqrt(in->x * in->x + in->y * in->y + in->z * in->z);
  vec3 r = {in->x / n, in->y / n, in->z / n};
  *out = r;
}

int main(void) {
  double a = 1.5, b = -0.5, t = 0.3;
  /* q.a = a c - b s, q.b = a s + b c; f = q.a^2 + 3 q.b */
  double c = cos(t), s = sin(t), qa = a * c - b * s, qb = a * s + b * c;
  CHECK(__enzyme_fwddiff((void *)use_rotate, a, 1.0, b, 0.0, t, 0.0), 2 * qa * c + 3 * s);
  CHECK(__enzyme_fwddiff((void *)use_rotate, a, 0.0, b, 1.0, t, 0.0), -2 * qa * s + 3 * c);
  CHECK(__enzyme_fwddiff((void *)use_rotate, a, 0.0, b, 0.0, t, 1.0), 2 * qa * (-qb) + 3 * qa);

  static const double ss[] = {-1.0, 0.5, 2.0};
  for (int i = 0; i < 3; i++) {
    double x = ss[i];
    /* u = (x, 2x, 1), v = (1, x^2, -x): c = (-2x^2 - x^2, 1 + x^2, x^3 - 2x)
     * f = -3x^2 + 2 + 2x^2 + 3x^3 - 6x = 3x^3 - x^2 - 6x + 2 */
    CHECK(__enzyme_fwddiff((void *)triple, enzyme_dup, x, 1.0), 9 * x * x - 2 * x - 6);
  }

  double r = 2.0, th = 0.7;
  radx_d2 dp = __enzyme_fwddiff_d2((void *)polar, enzyme_dup, r, 1.0, enzyme_dup, th, 0.0);
  CHECK(dp.d0, cos(th));
  CHECK(dp.d1, sin(th));
  dp = __enzyme_fwddiff_d2((void *)polar, enzyme_dup, r, 0.0, enzyme_dup, th, 1.0);
  CHECK(dp.d0, -r * sin(th));
  CHECK(dp.d1, r * cos(th));
  /* enzyme_primal_return with a struct result: {primal pair, tangent pair}. */
  pair2 pt = __enzyme_fwddiff_pair2((void *)polar, enzyme_primal_return, enzyme_dup, r, 0.5, enzyme_dup, th, 2.0);
  CHECK(pt.p.a, r * cos(th));
  CHECK(pt.p.b, r * sin(th));
  CHECK(pt.t.a, 0.5 * cos(th) - 2.0 * r * sin(th));
  CHECK(pt.t.b, 0.5 * sin(th) + 2.0 * r * cos(th));

  double u = 0.5, w = 3.0;
  vec3 dv3 = __enzyme_fwddiff_vec3((void *)make, enzyme_dup, u, 1.0, enzyme_const, w);
  CHECK(dv3.x, w);
  CHECK(dv3.y, 2 * u);
  CHECK(dv3.z, cos(u));
  vec3x2 pd = __enzyme_fwddiff_vec3x2((void *)make, enzyme_primal_return, enzyme_dup, u, 1.0, enzyme_dup, w, 2.0);
  CHECK(pd.a.x, u * w);
  CHECK(pd.a.z, sin(u));
  CHECK(pd.b.x, w + 2 * u);
  CHECK(pd.b.y, 2 * u);
  vec3x2 w2 = __enzyme_fwddiff_vec3x2((void *)make, enzyme_width, 2, u, 1.0, 0.0, w, 0.0, 1.0);
  CHECK(w2.a.x, w);
  CHECK(w2.b.x, u);
  CHECK(w2.a.z, cos(u));
  CHECK(w2.b.z, 0.0);
  vec3x3 pw = __enzyme_fwddiff_vec3x3((void *)make, enzyme_width, 2, enzyme_primal_return, u, 1.0, 0.0, w, 0.0, 1.0);
  CHECK(pw.a.y, u * u);
  CHECK(pw.b.x, w);
  CHECK(pw.c.x, u);
  CHECK(pw.c.y, 0.0);

  mixed m = {2.0, 3, {1.0, -2.0, 0.5}}, dm;
  memset(&dm, 0, sizeof dm);
  dm.v[1] = 1.0;
  CHECK(__enzyme_fwddiff((void *)weigh, &m, &dm), 2.0 * 2.0 * -2.0);
  memset(&dm, 0, sizeof dm);
  dm.w = 1.0;
  CHECK(__enzyme_fwddiff((void *)weigh, &m, &dm), 1.0 + 4.0 + 0.25);

  vec3 v = {1.0, 2.0, 2.0}, dv = {1.0, 0.0, 0.0}, out, dout = {0, 0, 0};
  __enzyme_fwddiff_void((void *)normalize, enzyme_dup, &v, &dv, enzyme_dup, &out, &dout);
  /* n = 3; d(x/n)/dx = 1/n - x^2/n^3, d(y/n)/dx = -x y / n^3 */
  CHECK(out.x, 1.0 / 3.0);
  CHECK(dout.x, 1.0 / 3.0 - 1.0 / 27.0);
  CHECK(dout.y, -2.0 / 27.0);
  CHECK(dout.z, -2.0 / 27.0);
  return RADX_FINISH();
}
