/* LSTM objective and its gradient (ADBench, Srajer et al. 2018, section "Long short-term
 * memory"), written from the problem's definition.
 *
 * A stack of `l` LSTM layers of width b (the character embedding size) reads a sequence of
 * c characters (one b-vector each) and predicts the next one; the objective is the mean
 * negative log-likelihood of the sequence. Per layer, with input x, hidden h and cell s:
 *   f = sigmoid(x w_f + b_f), i = sigmoid(h w_i + b_i), o = sigmoid(x w_o + b_o),
 *   g = tanh(h w_g + b_g)            (elementwise: ADBench's diagonal LSTM)
 *   s = s f + i g,  h = o tanh(s),   and h is the next layer's input
 * Prediction: x -> x * in_weight -> layers -> h * out_weight + out_bias;
 * loss = -sum_t dot(y_{t+1}, pred_t - logsumexp(pred_t)) / (b (c - 1)).
 * Parameters: main (2 l rows of 4b: weights and biases of each layer), extra (in_weight,
 * out_weight, out_bias); the initial state (2 l rows of b) and the sequence are constant.
 *
 * usage: lstm [--quick] [--reps R] FILE   (ADBench format: l c b, main, extra, state, sequence)
 *        lstm [--quick] [--reps R] gen L C B SEED
 * Gradient: d loss / d (main, extra) by one reverse sweep. */
#include "../common/bench.h"

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static void lstm_cell(int b, const double *w, const double *bias, double *hidden, double *cell,
                      const double *input) {
  for (int i = 0; i < b; i++) {
    double f = sigmoid(input[i] * w[i] + bias[i]);
    double ig = sigmoid(hidden[i] * w[b + i] + bias[b + i]);
    double o = sigmoid(input[i] * w[2 * b + i] + bias[2 * b + i]);
    double g = tanh(hidden[i] * w[3 * b + i] + bias[3 * b + i]);
    cell[i] = cell[i] * f + ig * g;
    hidden[i] = o * tanh(cell[i]);
  }
}

/* state: per layer, hidden (b) then cell (b); updated in place */
static void lstm_predict(int l, int b, const double *main_p, const double *extra, double *state,
                         const double *x, double *x2, double *pred) {
  for (int i = 0; i < b; i++) x2[i] = x[i] * extra[i];
  const double *in = x2;
  for (int k = 0; k < l; k++) {
    double *hidden = state + 2 * b * k;
    lstm_cell(b, main_p + 8 * b * k, main_p + 8 * b * k + 4 * b, hidden, hidden + b, in);
    in = hidden;
  }
  for (int i = 0; i < b; i++) pred[i] = in[i] * extra[b + i] + extra[2 * b + i];
}

__attribute__((noinline)) double lstm_objective(int l, int c, int b, const double *main_p,
                                                const double *extra, const double *state0,
                                                const double *seq) {
  double *state = (double *)malloc(sizeof(double) * (size_t)(2 * l * b));
  double *x2 = (double *)malloc(sizeof(double) * (size_t)b);
  double *pred = (double *)malloc(sizeof(double) * (size_t)b);
  memcpy(state, state0, sizeof(double) * (size_t)(2 * l * b));
  double total = 0;
  for (int t = 0; t < c - 1; t++) {
    lstm_predict(l, b, main_p, extra, state, seq + b * t, x2, pred);
    double mx = pred[0];
    for (int i = 1; i < b; i++) if (pred[i] > mx) mx = pred[i];
    double s = 0;
    for (int i = 0; i < b; i++) s += exp(pred[i] - mx);
    double lse = log(s) + mx;
    const double *gold = seq + b * (t + 1);
    for (int i = 0; i < b; i++) total += gold[i] * (pred[i] - lse);
  }
  free(state); free(x2); free(pred);
  return -total / (double)((c - 1) * b);
}

typedef struct {
  int l, c, b;
  double *main_p, *extra, *state, *seq;
  double *dmain, *dextra;
  double result;
} lstm_t;

static int lstm_nmain(const lstm_t *m) { return 8 * m->l * m->b; }

static void lstm_primal(void *ctx) {
  lstm_t *m = (lstm_t *)ctx;
  m->result = lstm_objective(m->l, m->c, m->b, m->main_p, m->extra, m->state, m->seq);
}

static void lstm_gradient(void *ctx) {
  lstm_t *m = (lstm_t *)ctx;
  memset(m->dmain, 0, sizeof(double) * (size_t)lstm_nmain(m));
  memset(m->dextra, 0, sizeof(double) * (size_t)(3 * m->b));
  __enzyme_autodiff((void *)lstm_objective, enzyme_const, m->l, enzyme_const, m->c,
                    enzyme_const, m->b, enzyme_dup, m->main_p, m->dmain, enzyme_dup, m->extra,
                    m->dextra, enzyme_const, m->state, enzyme_const, m->seq);
}

static double lstm_flat(void *ctx, const double *p) {
  lstm_t *m = (lstm_t *)ctx;
  return lstm_objective(m->l, m->c, m->b, p, p + lstm_nmain(m), m->state, m->seq);
}

static double lstm_fwd(void *ctx, const double *p, const double *v) {
  lstm_t *m = (lstm_t *)ctx;
  int np = lstm_nmain(m) + 3 * m->b;
  double *w = BENCH_ALLOC(double, np), *t = BENCH_ALLOC(double, np);
  memcpy(w, p, sizeof(double) * (size_t)np);
  memcpy(t, v, sizeof(double) * (size_t)np);
  double r = __enzyme_fwddiff((void *)lstm_objective, enzyme_const, m->l, enzyme_const, m->c,
                              enzyme_const, m->b, enzyme_dup, w, t, enzyme_dup,
                              w + lstm_nmain(m), t + lstm_nmain(m), enzyme_const, m->state,
                              enzyme_const, m->seq);
  free(w); free(t);
  return r;
}

static void lstm_alloc(lstm_t *m) {
  /* main and extra are contiguous so that the checks can treat them as one vector */
  m->main_p = BENCH_ALLOC(double, lstm_nmain(m) + 3 * m->b);
  m->extra = m->main_p + lstm_nmain(m);
  m->dmain = BENCH_ALLOC(double, lstm_nmain(m) + 3 * m->b);
  m->dextra = m->dmain + lstm_nmain(m);
  m->state = BENCH_ALLOC(double, 2 * m->l * m->b);
  m->seq = BENCH_ALLOC(double, m->c * m->b);
}

static void lstm_read(lstm_t *m, const char *path) {
  FILE *f = bench_open(path);
  m->l = bench_read_int(f); m->c = bench_read_int(f); m->b = bench_read_int(f);
  lstm_alloc(m);
  bench_read_doubles(f, m->main_p, lstm_nmain(m));
  bench_read_doubles(f, m->extra, 3 * m->b);
  bench_read_doubles(f, m->state, 2 * m->l * m->b);
  bench_read_doubles(f, m->seq, m->c * m->b);
  fclose(f);
}

static void lstm_generate(lstm_t *m, int l, int c, int b, unsigned long long seed) {
  m->l = l; m->c = c; m->b = b;
  lstm_alloc(m);
  bench_seed(seed);
  bench_fill(m->main_p, lstm_nmain(m) + 3 * b, 0, 1);
  bench_fill(m->state, 2 * l * b, 0, 1);
  bench_fill(m->seq, c * b, 0, 1);
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  lstm_t m;
  memset(&m, 0, sizeof m);
  const char *src = bench_arg(&o, 0, "gen");
  if (!strcmp(src, "gen"))
    lstm_generate(&m, atoi(bench_arg(&o, 1, "2")), atoi(bench_arg(&o, 2, "1024")),
                  atoi(bench_arg(&o, 3, "14")), (unsigned long long)atoll(bench_arg(&o, 4, "1")));
  else
    lstm_read(&m, src);
  char kase[64];
  snprintf(kase, sizeof kase, "l%d_c%d", m.l, m.c);
  int np = lstm_nmain(&m) + 3 * m.b;

  bench_first(lstm_gradient, &m);
  bench_seed(4242);
  bench_check_dirs("lstm gradient", lstm_flat, lstm_fwd, &m, m.main_p, m.dmain, np,
                   o.quick ? 2 : 4, 1e-3, 1e-6, 1e-9);
  bench_timing t = bench_time(lstm_primal, lstm_gradient, &m, &o);
  char extra[96];
  snprintf(extra, sizeof extra, "\"params\": %d, \"objective\": %.10g", np, m.result);
  bench_report("lstm", kase, "gradient (1 reverse sweep)", t, extra);
  return bench_finish();
}
