/* The run-time half of `radx check`: compiled into the checked program beside the thunks
 * that rust/radx-core/src/check/mod.rs writes for each derivative request.
 *
 * At the first time the program reaches a request, `radx_check_hook` takes the arguments
 * the program passes there as the point, learns from one instrumented run of the function
 * which floating-point data behind its pointer arguments it reads (the inputs) and writes
 * (the outputs), and compares the derivative with central differences (Richardson
 * extrapolated) at that point and at two points near it; a reverse-mode request also gets
 * the dot-product test against forward mode. Memory is restored after every run, so the
 * program goes on as if nothing had happened. On a mismatch the forward-mode tangents of
 * the function's intermediate values are compared with finite differences to find the
 * first one that disagrees. One JSON line per request goes to $RADX_CHECK_OUT. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_F64 = 1, K_F32, K_CF64, K_CF32, K_DUP_PTR, K_CONST_PTR, K_OTHER };
enum { T_STORE = 1, T_F64 = 2, T_F32 = 4, T_PTR = 8, T_BYTES = 16 };

typedef struct {
  const char *function, *kind, *where, *skip;
  int nargs;
  const int *kinds;
  int ret; /* 0: none, K_F64, K_F32: an active floating-point result */
  void (*primal)(void **, double *);
  void (*probe)(void **, double *);
  void (*fwd)(void **, void **, double *);
  void (*fwdprobe)(void **, void **, double *);
  void (*rev)(void **, void **, double *);
} radx_check_request;

extern const radx_check_request radx_check_requests[];
extern const int radx_check_nrequests;
extern const char *const radx_check_sites[];

/* ---- what the instrumented function reports ------------------------------------------- */

typedef struct { uintptr_t addr; uint32_t size, flags; } touch;
typedef struct { int32_t id; double v; } event;
static touch *touches;
static size_t ntouches, cap_touches;
static event *events;
static size_t nevents, cap_events;
static int recording_touches, recording_values, recording_tangents;
/* What the probe's stores overwrote, so that its run can be undone exactly. */
static unsigned char *undo;
static size_t nundo, cap_undo;

void radx_check_touch(void *p, int64_t n, int32_t flags) {
  if (!recording_touches) return;
  if (flags & T_STORE) {
    size_t need = nundo + sizeof(void *) + sizeof(int64_t) + (size_t)n;
    if (need > cap_undo) {
      cap_undo = need * 2 + 4096;
      undo = realloc(undo, cap_undo);
    }
    memcpy(undo + nundo, &p, sizeof p), nundo += sizeof p;
    memcpy(undo + nundo, p, (size_t)n), nundo += (size_t)n;
    memcpy(undo + nundo, &n, sizeof n), nundo += sizeof n;
  }
  if (ntouches == cap_touches) {
    cap_touches = cap_touches ? 2 * cap_touches : 1024;
    touches = realloc(touches, cap_touches * sizeof *touches);
  }
  touches[ntouches++] = (touch){(uintptr_t)p, (uint32_t)n, (uint32_t)flags};
}
void radx_check_touch_fwd(void *p, void *dp, int64_t n, int32_t flags) { (void)p, (void)dp, (void)n, (void)flags; }

static void push_event(int32_t id, double v) {
  if (nevents == cap_events) {
    cap_events = cap_events ? 2 * cap_events : 1024;
    events = realloc(events, cap_events * sizeof *events);
  }
  events[nevents++] = (event){id, v};
}
void radx_check_value(int32_t id, double v) {
  if (recording_values) push_event(id, v);
}
void radx_check_value_fwd(int32_t id, double v, double dv) {
  (void)v;
  if (recording_tangents) push_event(id, dv);
}

/* ---- one request's inputs, outputs and memory ----------------------------------------- */

typedef struct { int arg; char *addr; int size; long index; } elem; /* size 8 or 4 */
typedef struct { char *base; long lo, hi; char *saved; } region;

typedef struct {
  const radx_check_request *r;
  void **argv;
  region *reg; /* per argument; hi <= lo when none */
  double *scalar_saved;
  elem *in, *out;
  long nin, nout; /* outputs after the result (when r->ret) */
  double *scale;  /* per argument */
} problem;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double normal(void) {
  double u = uniform() + 1e-300, v = uniform();
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static double get(const elem *e) { return e->size == 8 ? *(double *)e->addr : *(float *)e->addr; }
static void set(const elem *e, double v) {
  if (e->size == 8) *(double *)e->addr = v; else *(float *)e->addr = (float)v;
}
static double get_at(char *p, int size) { return size == 8 ? *(double *)p : *(float *)p; }
static void set_at(char *p, int size, double v) {
  if (size == 8) *(double *)p = v; else *(float *)p = (float)v;
}

static int is_ptr(int k) { return k == K_DUP_PTR || k == K_CONST_PTR; }
static int is_active_scalar(int k) { return k == K_F64 || k == K_F32; }

static void restore(problem *p) {
  for (int i = 0; i < p->r->nargs; i++) {
    region *g = &p->reg[i];
    if (g->saved) memcpy(g->base + g->lo, g->saved, (size_t)(g->hi - g->lo));
    if (is_active_scalar(p->r->kinds[i])) {
      if (p->r->kinds[i] == K_F64) *(double *)p->argv[i] = p->scalar_saved[i];
      else *(float *)p->argv[i] = (float)p->scalar_saved[i];
    }
  }
}

/* The argument a touched address belongs to: the pointer argument with the greatest base
 * at or below it, within 64 MiB. */
static int owner(problem *p, uintptr_t a) {
  int best = -1;
  for (int i = 0; i < p->r->nargs; i++) {
    if (!is_ptr(p->r->kinds[i])) continue;
    uintptr_t b = (uintptr_t)p->reg[i].base;
    if (b <= a && a - b < (1u << 26) && (best < 0 || b > (uintptr_t)p->reg[best].base)) best = i;
  }
  return best;
}

/* Learns the inputs and outputs from one instrumented run; returns why the request cannot
 * be checked, or NULL. */
static const char *discover(problem *p) {
  const radx_check_request *r = p->r;
  for (int i = 0; i < r->nargs; i++) {
    p->reg[i].lo = 1L << 40, p->reg[i].hi = -(1L << 40);
    if (is_ptr(r->kinds[i])) p->reg[i].base = *(char **)p->argv[i];
    if (is_active_scalar(r->kinds[i]))
      p->scalar_saved[i] = r->kinds[i] == K_F64 ? *(double *)p->argv[i] : *(float *)p->argv[i];
  }
  ntouches = 0, nundo = 0;
  recording_touches = 1;
  double ret;
  r->probe(p->argv, &ret);
  recording_touches = 0;
  /* The probe ran on the program's memory: put back what it overwrote, newest first. */
  while (nundo > 0) {
    int64_t n;
    void *at;
    nundo -= sizeof n, memcpy(&n, undo + nundo, sizeof n);
    nundo -= (size_t)n;
    memcpy(&at, undo + nundo - sizeof at, sizeof at);
    memcpy(at, undo + nundo, (size_t)n);
    nundo -= sizeof at;
  }
  for (size_t t = 0; t < ntouches; t++) {
    int o = owner(p, touches[t].addr);
    if (o < 0) continue;
    long off = (long)(touches[t].addr - (uintptr_t)p->reg[o].base);
    if (off < p->reg[o].lo) p->reg[o].lo = off;
    if (off + (long)touches[t].size > p->reg[o].hi) p->reg[o].hi = off + touches[t].size;
    if ((touches[t].flags & T_PTR) && r->kinds[o] == K_DUP_PTR)
      return "it reads pointers from the memory of a duplicated argument (nested data); radx check perturbs floating-point data it can attribute to an argument";
  }
  return NULL;
}

/* Classifies the elements of every duplicated region: an input when the first touch is a
 * floating-point load, an output when stored to. */
static void classify(problem *p) {
  const radx_check_request *r = p->r;
  p->nin = p->nout = 0;
  p->in = calloc(ntouches + r->nargs + 1, sizeof(elem));
  p->out = calloc(ntouches + 1, sizeof(elem));
  for (int i = 0; i < r->nargs; i++) {
    if (is_active_scalar(r->kinds[i]))
      p->in[p->nin++] = (elem){i, (char *)p->argv[i], r->kinds[i] == K_F64 ? 8 : 4, 0};
    if (r->kinds[i] != K_DUP_PTR || p->reg[i].hi <= p->reg[i].lo) continue;
    long span = p->reg[i].hi - p->reg[i].lo;
    unsigned char *first = calloc((size_t)span, 1), *stored = calloc((size_t)span, 1), *size = calloc((size_t)span, 1);
    for (size_t t = 0; t < ntouches; t++) {
      if (owner(p, touches[t].addr) != i) continue;
      long off = (long)(touches[t].addr - (uintptr_t)p->reg[i].base) - p->reg[i].lo;
      uint32_t f = touches[t].flags;
      int st = f & T_STORE;
      if (f & (T_F64 | T_F32)) {
        int sz = (f & T_F64) ? 8 : 4;
        if (!first[off]) first[off] = st ? 'S' : 'L', size[off] = (unsigned char)sz;
        if (st) stored[off] = 1;
      } else if (f & T_BYTES) {
        /* memcpy/memset of floating-point data: taken as doubles, 8-byte aligned */
        for (long b = off; b + 8 <= off + (long)touches[t].size; b += 8) {
          if ((b + p->reg[i].lo) % 8) continue;
          if (!first[b]) first[b] = st ? 'S' : 'L', size[b] = 8;
          if (st) stored[b] = 1;
        }
      }
    }
    for (long off = 0; off < span; off++) {
      if (!size[off]) continue;
      char *addr = p->reg[i].base + p->reg[i].lo + off;
      long index = (p->reg[i].lo + off) / size[off];
      if (first[off] == 'L') p->in[p->nin++] = (elem){i, addr, size[off], index};
      if (stored[off]) p->out[p->nout++] = (elem){i, addr, size[off], index};
    }
    free(first), free(stored), free(size);
  }
}

static long noutputs(problem *p) { return (p->r->ret ? 1 : 0) + p->nout; }

static void set_point(problem *p, const double *x) {
  restore(p);
  for (long k = 0; k < p->nin; k++) set(&p->in[k], x[k]);
}

static void eval(problem *p, const double *x, double *y) {
  set_point(p, x);
  double ret = 0;
  p->r->primal(p->argv, &ret);
  long o = 0;
  if (p->r->ret) y[o++] = ret;
  for (long k = 0; k < p->nout; k++) y[o++] = get(&p->out[k]);
}

/* Shadow memory of every duplicated region (zeroed), and tangent slots of active scalars;
 * `shadow_of[i]` is what the derivative is passed for argument i. */
typedef struct { char *mem[64]; double slot[64]; float fslot[64]; void *arg[64]; } shadows;

static void make_shadows(problem *p, shadows *s) {
  for (int i = 0; i < p->r->nargs && i < 64; i++) {
    s->mem[i] = NULL, s->slot[i] = 0, s->fslot[i] = 0, s->arg[i] = NULL;
    if (p->r->kinds[i] == K_DUP_PTR) {
      long span = p->reg[i].hi > p->reg[i].lo ? p->reg[i].hi - p->reg[i].lo : 0;
      s->mem[i] = calloc((size_t)span + 16, 1);
      s->arg[i] = s->mem[i] - (p->reg[i].hi > p->reg[i].lo ? p->reg[i].lo : 0);
    } else if (p->r->kinds[i] == K_F64) s->arg[i] = &s->slot[i];
    else if (p->r->kinds[i] == K_F32) s->arg[i] = &s->fslot[i];
  }
}
static void free_shadows(problem *p, shadows *s) {
  for (int i = 0; i < p->r->nargs && i < 64; i++) free(s->mem[i]);
}
static char *shadow_addr(problem *p, shadows *s, const elem *e) {
  return (char *)s->arg[e->arg] + (e->addr - p->reg[e->arg].base);
}

/* J v by the forward-mode derivative (or the probe's, which records tangents). */
static void forward(problem *p, void (*fn)(void **, void **, double *), const double *x, const double *v, double *jv) {
  set_point(p, x);
  shadows s;
  make_shadows(p, &s);
  for (long k = 0; k < p->nin; k++) {
    const elem *e = &p->in[k];
    if (is_active_scalar(p->r->kinds[e->arg])) {
      if (p->r->kinds[e->arg] == K_F64) s.slot[e->arg] = v[k]; else s.fslot[e->arg] = (float)v[k];
    } else set_at(shadow_addr(p, &s, e), e->size, v[k]);
  }
  double rt = 0;
  fn(p->argv, s.arg, &rt);
  long o = 0;
  if (jv) {
    if (p->r->ret) jv[o++] = rt;
    for (long k = 0; k < p->nout; k++) jv[o++] = get_at(shadow_addr(p, &s, &p->out[k]), p->out[k].size);
  }
  free_shadows(p, &s);
}

/* J^T w by the reverse-mode derivative; the result's weight is 1 (the seed it gets). */
static void reverse(problem *p, const double *x, const double *w, double *g) {
  set_point(p, x);
  shadows s;
  make_shadows(p, &s);
  for (long k = 0; k < p->nout; k++) set_at(shadow_addr(p, &s, &p->out[k]), p->out[k].size, w[(p->r->ret ? 1 : 0) + k]);
  double adj[64] = {0};
  p->r->rev(p->argv, s.arg, adj);
  for (long k = 0; k < p->nin; k++) {
    const elem *e = &p->in[k];
    g[k] = is_active_scalar(p->r->kinds[e->arg]) ? adj[e->arg] : get_at(shadow_addr(p, &s, e), e->size);
  }
  free_shadows(p, &s);
}

/* Central differences along d, Richardson-extrapolated: (4 D(t/2) - D(t)) / 3. */
static void fd(problem *p, const double *x, const double *d, double *out) {
  long n = p->nin, m = noutputs(p);
  double *xp = malloc(n * sizeof(double)), *yp = malloc(m * sizeof(double)), *ym = malloc(m * sizeof(double));
  double *d1 = malloc(m * sizeof(double));
  const double t = 1e-3;
  for (int half = 0; half < 2; half++) {
    double h = half ? t / 2 : t;
    for (long k = 0; k < n; k++) xp[k] = x[k] + h * d[k];
    eval(p, xp, yp);
    for (long k = 0; k < n; k++) xp[k] = x[k] - h * d[k];
    eval(p, xp, ym);
    for (long j = 0; j < m; j++) {
      double D = (yp[j] - ym[j]) / (2 * h);
      if (!half) d1[j] = D; else out[j] = (4 * D - d1[j]) / 3;
    }
  }
  free(xp), free(yp), free(ym), free(d1);
}

/* ---- the report ------------------------------------------------------------------------ */

typedef struct { char argument[160]; const char *check; double err; long worst; int finite; } row;

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

static double tolerance_of(const char *check) { return strcmp(check, "dot product") == 0 ? 1e-9 : 1e-6; }

static void describe_arg(problem *p, int i, char *buf, size_t n) {
  static const char *const names[] = {"", "double", "float", "double", "float", "pointer", "pointer", "integer"};
  snprintf(buf, n, "argument %d (%s)", i + 1, names[p->r->kinds[i]]);
}

/* The first intermediate value whose forward-mode tangent disagrees with finite differences
 * along d, as an index into radx_check_sites, or -1; *why says what was compared. */
static long bisect(problem *p, const double *x, const double *d, const char **why) {
  *why = "";
  if (!p->r->fwdprobe) return *why = "no forward derivative of the instrumented function", -1;
  long n = p->nin;
  double *xp = malloc(n * sizeof(double));
  event *tr[5] = {0};
  size_t len[5] = {0};
  const double t = 1e-3, hs[4] = {t, -t, t / 2, -t / 2};
  for (int r = 0; r < 4; r++) {
    for (long k = 0; k < n; k++) xp[k] = x[k] + hs[r] * d[k];
    set_point(p, xp);
    nevents = 0, recording_values = 1;
    double ret;
    p->r->probe(p->argv, &ret);
    recording_values = 0;
    tr[r] = malloc((nevents + 1) * sizeof(event)), len[r] = nevents;
    memcpy(tr[r], events, nevents * sizeof(event));
  }
  nevents = 0, recording_tangents = 1;
  forward(p, p->r->fwdprobe, x, d, NULL);
  recording_tangents = 0;
  tr[4] = malloc((nevents + 1) * sizeof(event)), len[4] = nevents;
  memcpy(tr[4], events, nevents * sizeof(event));
  long found = -1;
  int same = 1;
  for (int r = 1; r < 5; r++) same &= len[r] == len[0];
  if (!same) *why = "the perturbed runs take other paths; no value-by-value comparison";
  for (size_t k = 0; same && k < len[0]; k++) {
    int32_t id = tr[0][k].id;
    if (tr[1][k].id != id || tr[2][k].id != id || tr[3][k].id != id || tr[4][k].id != id) {
      *why = "the perturbed runs take other paths; no value-by-value comparison";
      break;
    }
    double D1 = (tr[0][k].v - tr[1][k].v) / (2 * t), D2 = (tr[2][k].v - tr[3][k].v) / t;
    double fdv = (4 * D2 - D1) / 3, ad = tr[4][k].v, mag = fabs(tr[0][k].v) + 1;
    if (!isfinite(fdv) || !isfinite(ad)) continue;
    if (fabs(ad - fdv) > 1e-5 * fmax(fabs(fdv), fabs(ad)) + 1e-9 * mag) {
      found = id;
      break;
    }
  }
  if (found < 0 && same && !**why) *why = p->r->rev ? "every intermediate value's forward-mode tangent agrees with finite differences: the error is in the reverse sweep (a reverse rule, an adjoint)"
                                      : "every intermediate value's forward-mode tangent agrees with finite differences";
  for (int r = 0; r < 5; r++) free(tr[r]);
  free(xp);
  return found;
}

static void check(const radx_check_request *r, void **argv, FILE *out) {
  problem P = {0}, *p = &P;
  p->r = r, p->argv = argv;
  p->reg = calloc((size_t)r->nargs + 1, sizeof(region));
  p->scalar_saved = calloc((size_t)r->nargs + 1, sizeof(double));
  const char *skip = r->skip;
  row rows[130];
  int nrows = 0;
  long site = -1;
  const char *bisect_note = NULL;
  if (!skip && r->nargs > 64) skip = "it has more than 64 arguments";
  if (!skip) skip = discover(p);
  if (!skip) {
    for (int i = 0; i < r->nargs; i++) {
      region *g = &p->reg[i];
      if (is_ptr(r->kinds[i]) && g->hi > g->lo) {
        g->saved = malloc((size_t)(g->hi - g->lo));
        memcpy(g->saved, g->base + g->lo, (size_t)(g->hi - g->lo));
      }
    }
    classify(p);
    if (p->nin == 0) skip = "it reads no floating-point input radx check can attribute to an active argument";
    else if (noutputs(p) == 0) skip = "it has no floating-point output (result or stored value) radx check can attribute to an argument";
  }
  if (!skip) {
    long n = p->nin, m = noutputs(p);
    double *x0 = malloc(n * sizeof(double)), *x = malloc(n * sizeof(double)), *d = malloc(n * sizeof(double));
    double *a = malloc(m * sizeof(double)), *b = malloc(m * sizeof(double)), *w = malloc(m * sizeof(double));
    double *g = malloc(n * sizeof(double)), *e = calloc(n, sizeof(double)), *col = malloc(m * sizeof(double));
    for (long k = 0; k < n; k++) x0[k] = get(&p->in[k]);
    p->scale = calloc((size_t)r->nargs, sizeof(double));
    for (int i = 0; i < r->nargs; i++) {
      double s2 = 0;
      long c = 0;
      for (long k = 0; k < n; k++)
        if (p->in[k].arg == i) s2 += x0[k] * x0[k], c++;
      p->scale[i] = c ? fmax(sqrt(s2 / c), 1e-3) : 1;
    }
    int reverse_mode = r->rev != NULL;
    double worst_err = 0;
    long worst_arg = -1;
    for (int point = 0; point < 3; point++) {
      for (long k = 0; k < n; k++) x[k] = point ? x0[k] * (1 + 0.02 * (2 * uniform() - 1)) : x0[k];
      eval(p, x, a);
      int finite = 1;
      for (long j = 0; j < m; j++) finite &= isfinite(a[j]) != 0;
      if (!finite) {
        if (point == 0) { skip = "the function's outputs are not finite at the program's point"; break; }
        continue;
      }
      for (int i = 0; i < r->nargs; i++) {
        long cnt = 0;
        for (long k = 0; k < n; k++) cnt += p->in[k].arg == i;
        if (!cnt) continue;
        row *rw = NULL;
        for (int q = 0; q < nrows; q++)
          if (rows[q].worst >= -1 && strncmp(rows[q].argument, "argument", 8) == 0 && atoi(rows[q].argument + 9) == i + 1) rw = &rows[q];
        if (!rw) {
          rw = &rows[nrows++];
          describe_arg(p, i, rw->argument, sizeof rw->argument);
          rw->check = reverse_mode ? "finite differences (reverse)" : "finite differences (forward)";
          rw->err = 0, rw->worst = -1, rw->finite = 1;
        }
        if (!reverse_mode) {
          for (long k = 0; k < n; k++) d[k] = p->in[k].arg == i ? normal() * p->scale[i] : 0;
          forward(p, r->fwd, x, d, a);
          fd(p, x, d, b);
          double big = 0, err = 0;
          long at = -1;
          for (long j = 0; j < m; j++) big = fmax(big, fabs(b[j]));
          for (long j = 0; j < m; j++) {
            double ej = fabs(a[j] - b[j]) / fmax(big, 1e-300);
            if (!isfinite(a[j])) ej = INFINITY;
            if (ej > err) err = ej, at = j;
          }
          if (big == 0 && err == INFINITY) err = 0;
          if (err > rw->err) rw->err = err, rw->worst = at;
        } else {
          w[0] = 1;
          for (long j = r->ret ? 1 : 0; j < m; j++) w[j] = normal();
          reverse(p, x, w, g);
          /* the elements of argument i: all when few, else a seeded sample */
          long idx[24], ni = 0, seen = 0;
          for (long k = 0; k < n; k++) {
            if (p->in[k].arg != i) continue;
            if (ni < 24) idx[ni++] = k;
            else {
              long s = (long)(uniform() * (seen + 1));
              if (s < 24) idx[s] = k;
            }
            seen++;
          }
          double big = 0, err = 0;
          long at = -1;
          double fdv[24];
          for (long q = 0; q < ni; q++) {
            memset(e, 0, n * sizeof(double));
            e[idx[q]] = p->scale[i];
            fd(p, x, e, col);
            double s = 0;
            for (long j = 0; j < m; j++) s += w[j] * col[j];
            fdv[q] = s / p->scale[i];
            big = fmax(big, fabs(fdv[q]));
          }
          for (long q = 0; q < ni; q++) {
            double eq = fabs(g[idx[q]] - fdv[q]) / fmax(big, 1e-300);
            if (!isfinite(g[idx[q]])) eq = INFINITY;
            if (eq > err) err = eq, at = p->in[idx[q]].index;
          }
          if (big == 0 && err != INFINITY) err = 0;
          if (err > rw->err) rw->err = err, rw->worst = at;
        }
        if (rw->err > worst_err) worst_err = rw->err, worst_arg = i;
      }
      if (reverse_mode && r->fwd) {
        row *rw = NULL;
        for (int q = 0; q < nrows; q++)
          if (strcmp(rows[q].check, "dot product") == 0) rw = &rows[q];
        if (!rw) {
          rw = &rows[nrows++];
          snprintf(rw->argument, sizeof rw->argument, "all arguments");
          rw->check = "dot product", rw->err = 0, rw->worst = -1, rw->finite = 1;
        }
        for (long k = 0; k < n; k++) d[k] = normal() * p->scale[p->in[k].arg];
        w[0] = 1;
        for (long j = r->ret ? 1 : 0; j < m; j++) w[j] = normal();
        forward(p, r->fwd, x, d, a);
        reverse(p, x, w, g);
        double lhs = 0, rhs = 0, mag = 0;
        for (long j = 0; j < m; j++) lhs += w[j] * a[j], mag += fabs(w[j] * a[j]);
        for (long k = 0; k < n; k++) rhs += g[k] * d[k], mag += fabs(g[k] * d[k]);
        double err = fabs(lhs - rhs) / fmax(mag, 1e-300);
        if (!isfinite(err)) err = INFINITY;
        if (err > rw->err) rw->err = err;
      }
    }
    /* on a mismatch, look for the first intermediate value whose tangent is wrong */
    int bad = 0;
    for (int q = 0; q < nrows; q++) bad |= !(rows[q].err <= tolerance_of(rows[q].check));
    if (!skip && bad) {
      int i = worst_arg >= 0 ? (int)worst_arg : p->in[0].arg;
      for (long k = 0; k < n; k++) d[k] = p->in[k].arg == i ? normal() * p->scale[i] : 0;
      site = bisect(p, x0, d, &bisect_note);
    }
    free(x0), free(x), free(d), free(a), free(b), free(w), free(g), free(e), free(col);
  }
  restore(p);
  /* the report line */
  int ok = !skip;
  for (int q = 0; q < nrows; q++) ok &= rows[q].err <= tolerance_of(rows[q].check);
  fprintf(out, "{\"id\":%d,\"function\":", (int)(r - radx_check_requests));
  json_string(out, r->function);
  fprintf(out, ",\"kind\":");
  json_string(out, r->kind);
  fprintf(out, ",\"where\":");
  json_string(out, r->where);
  fprintf(out, ",\"status\":\"%s\"", skip ? "skipped" : ok ? "ok" : "mismatch");
  if (skip) fprintf(out, ",\"reason\":"), json_string(out, skip);
  fprintf(out, ",\"inputs\":%ld,\"outputs\":%ld,\"rows\":[", p->nin, skip ? 0 : noutputs(p));
  for (int q = 0; q < nrows; q++) {
    fprintf(out, "%s{\"argument\":", q ? "," : "");
    json_string(out, rows[q].argument);
    fprintf(out, ",\"check\":");
    json_string(out, rows[q].check);
    if (isfinite(rows[q].err)) fprintf(out, ",\"max_rel_error\":%.3e", rows[q].err);
    else fprintf(out, ",\"max_rel_error\":null");
    fprintf(out, ",\"worst_index\":%ld,\"tolerance\":%.0e,\"verdict\":\"%s\"}", rows[q].worst, tolerance_of(rows[q].check),
            rows[q].err <= tolerance_of(rows[q].check) ? "ok" : "MISMATCH");
  }
  fprintf(out, "]");
  if (site >= 0) fprintf(out, ",\"first_wrong_tangent\":"), json_string(out, radx_check_sites[site]);
  if (bisect_note && *bisect_note) fprintf(out, ",\"bisect_note\":"), json_string(out, bisect_note);
  fprintf(out, "}\n");
  fflush(out);
  for (int i = 0; i < r->nargs; i++) free(p->reg[i].saved);
  free(p->reg), free(p->scalar_saved), free(p->in), free(p->out), free(p->scale);
}

void radx_check_hook(int32_t id, void **argv) {
  static unsigned char *done;
  if (!done) {
    done = calloc((size_t)radx_check_nrequests + 1, 1);
    const char *seed = getenv("RADX_CHECK_SEED");
    if (seed) rng_state ^= strtoull(seed, NULL, 10) * 0x2545f4914f6cdd1dull;
  }
  if (id < 0 || id >= radx_check_nrequests || done[id]) return;
  done[id] = 1;
  const char *path = getenv("RADX_CHECK_OUT");
  FILE *out = path ? fopen(path, "a") : stderr;
  if (!out) out = stderr;
  check(&radx_check_requests[id], argv, out);
  if (out != stderr) fclose(out);
}
