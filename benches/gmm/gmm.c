/* GMM objective and its gradient (ADBench, Srajer et al. 2018, section "Gaussian mixture
 * model fitting"), written from the problem's definition.
 *
 * Parameters: K mixture weights alpha (log-space), K means mu_k in R^d, and per component
 * the inverse covariance factor Q_k = L_k with exp(q_k) on its diagonal and the d(d-1)/2
 * entries l_k below it (icf: d diagonal logs, then the lower triangle column by column).
 *
 *   E = -n d/2 log(2 pi) + sum_i logsumexp_k( alpha_k + sum(q_k) - |Q_k (x_i - mu_k)|^2 / 2 )
 *       - n logsumexp(alpha) + log Wishart prior( gamma, m )
 *   prior = sum_k ( gamma^2/2 (|exp(q_k)|^2 + |l_k|^2) - m sum(q_k) ) - K C(d, gamma, m)
 *
 * usage: gmm [--quick] [--reps R] FILE            (ADBench format: d k n, alphas, means, icf, x, gamma m)
 *        gmm [--quick] [--reps R] gen D K N SEED  (seeded inputs of the same layout)
 * Gradient: d E / d (alphas, means, icf) by one reverse sweep (__enzyme_autodiff). */
#include "../common/bench.h"

static double logsumexp(const double *v, int n) {
  double mx = v[0];
  for (int i = 1; i < n; i++) if (v[i] > mx) mx = v[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp(v[i] - mx);
  return log(s) + mx;
}

/* log of the multivariate gamma function Gamma_p(a): constant in the parameters */
static double log_gamma_distrib(double a, int p) {
  double r = 0.25 * p * (p - 1) * log(M_PI);
  for (int j = 1; j <= p; j++) r += lgamma(a + 0.5 * (1 - j));
  return r;
}

static double log_wishart_prior(int d, int k, double gamma, int m, const double *sum_qs,
                                const double *qdiags, const double *icf) {
  int icf_sz = d * (d + 1) / 2;
  int nn = d + m + 1;
  double C = nn * d * (log(gamma) - 0.5 * log(2.0)) - log_gamma_distrib(0.5 * nn, d);
  double out = 0;
  for (int ik = 0; ik < k; ik++) {
    double frob = 0;
    for (int i = 0; i < d; i++) frob += qdiags[ik * d + i] * qdiags[ik * d + i];
    for (int i = d; i < icf_sz; i++) frob += icf[ik * icf_sz + i] * icf[ik * icf_sz + i];
    out += 0.5 * gamma * gamma * frob - m * sum_qs[ik];
  }
  return out - k * C;
}

/* out = Q x with Q lower triangular: diagonal qdiag, below it ltri column by column */
static void qtimesx(int d, const double *qdiag, const double *ltri, const double *x, double *out) {
  for (int i = 0; i < d; i++) out[i] = qdiag[i] * x[i];
  int li = 0;
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) out[j] += ltri[li++] * x[i];
}

/* per component: exp of the diagonal logs (the diagonal of Q_k) and their sum */
static void q_diagonals(int d, int k, const double *icf, double *qdiags, double *sum_qs) {
  int icf_sz = d * (d + 1) / 2;
  for (int ik = 0; ik < k; ik++) {
    double s = 0;
    for (int i = 0; i < d; i++) {
      s += icf[ik * icf_sz + i];
      qdiags[ik * d + i] = exp(icf[ik * icf_sz + i]);
    }
    sum_qs[ik] = s;
  }
}

__attribute__((noinline)) double gmm_objective(int d, int k, int n, const double *alphas,
                                               const double *means, const double *icf,
                                               const double *x, double gamma, int m) {
  int icf_sz = d * (d + 1) / 2;
  double *qdiags = (double *)malloc(sizeof(double) * (size_t)(d * k));
  double *sum_qs = (double *)malloc(sizeof(double) * (size_t)k);
  double *xc = (double *)malloc(sizeof(double) * (size_t)d);
  double *qxc = (double *)malloc(sizeof(double) * (size_t)d);
  double *main_term = (double *)malloc(sizeof(double) * (size_t)k);
  q_diagonals(d, k, icf, qdiags, sum_qs);
  double slse = 0;
  for (int ix = 0; ix < n; ix++) {
    for (int ik = 0; ik < k; ik++) {
      for (int i = 0; i < d; i++) xc[i] = x[ix * d + i] - means[ik * d + i];
      qtimesx(d, qdiags + ik * d, icf + ik * icf_sz + d, xc, qxc);
      double sq = 0;
      for (int i = 0; i < d; i++) sq += qxc[i] * qxc[i];
      main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq;
    }
    slse += logsumexp(main_term, k);
  }
  double lse_alphas = logsumexp(alphas, k);
  double constant = -n * d * 0.5 * log(2 * M_PI);
  double err = constant + slse - n * lse_alphas +
               log_wishart_prior(d, k, gamma, m, sum_qs, qdiags, icf);
  free(qdiags); free(sum_qs); free(xc); free(qxc); free(main_term);
  return err;
}

#ifdef GMM_MANUAL
/* The gradient derived by hand (ADBench's "Manual" tool, in spirit): the yardstick for what
 * a derivative of this objective can cost here, independent of any AD tool. It is the
 * ordinary two-sweep derivative: the forward sweep keeps each point's Q_k (x_i - mu_k) and
 * its exp(main_term - max) weights, the reverse sweep visits the points backwards. Two
 * liberties an AD tool cannot take, besides `restrict` on every array: the derivative of logsumexp through its max is taken
 * as exactly zero, and (x_i - mu_k) is recomputed rather than kept. */
static void gmm_gradient_manual(int d, int k, int n, const double *restrict alphas,
                                double *restrict dalphas, const double *restrict means,
                                double *restrict dmeans, const double *restrict icf,
                                double *restrict dicf, const double *restrict x, double gamma,
                                int m) {
  int icf_sz = d * (d + 1) / 2;
  double *qdiags = (double *)malloc(sizeof(double) * (size_t)(d * k));
  double *dqdiags = (double *)calloc((size_t)(d * k), sizeof(double));
  double *sum_qs = (double *)malloc(sizeof(double) * (size_t)k);
  double *dsum_qs = (double *)calloc((size_t)k, sizeof(double));
  double *xc = (double *)malloc(sizeof(double) * (size_t)d);
  double *dxc = (double *)malloc(sizeof(double) * (size_t)d);
  double *dqxc = (double *)malloc(sizeof(double) * (size_t)d);
  double *main_term = (double *)malloc(sizeof(double) * (size_t)k);
  double *qxcs = (double *)malloc(sizeof(double) * (size_t)n * (size_t)(k * d));
  double *weights = (double *)malloc(sizeof(double) * (size_t)n * (size_t)(k + 1));
  q_diagonals(d, k, icf, qdiags, sum_qs);
  for (int ix = 0; ix < n; ix++) {
    double *qxc = qxcs + (size_t)ix * (size_t)(k * d), *w = weights + (size_t)ix * (size_t)(k + 1);
    for (int ik = 0; ik < k; ik++) {
      for (int i = 0; i < d; i++) xc[i] = x[ix * d + i] - means[ik * d + i];
      qtimesx(d, qdiags + ik * d, icf + ik * icf_sz + d, xc, qxc + ik * d);
      double sq = 0;
      for (int i = 0; i < d; i++) sq += qxc[ik * d + i] * qxc[ik * d + i];
      main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq;
    }
    double mx = main_term[0], s = 0;
    for (int ik = 1; ik < k; ik++) if (main_term[ik] > mx) mx = main_term[ik];
    for (int ik = 0; ik < k; ik++) s += w[ik] = exp(main_term[ik] - mx);
    w[k] = s;
  }
  for (int ix = n - 1; ix >= 0; ix--) {
    const double *qxc = qxcs + (size_t)ix * (size_t)(k * d), *w = weights + (size_t)ix * (size_t)(k + 1);
    for (int ik = k - 1; ik >= 0; ik--) {
      double dmain = w[ik] / w[k], dsq = -0.5 * dmain;
      dalphas[ik] += dmain;
      dsum_qs[ik] += dmain;
      const double *qdiag = qdiags + ik * d, *ltri = icf + ik * icf_sz + d;
      double *dltri = dicf + ik * icf_sz + d;
      for (int i = 0; i < d; i++) {
        dqxc[i] = 2 * qxc[ik * d + i] * dsq;
        xc[i] = x[ix * d + i] - means[ik * d + i];
      }
      int li = 0;
      for (int i = 0; i < d; i++) {
        double acc = dqxc[i] * qdiag[i];
        for (int j = i + 1; j < d; j++, li++) {
          dltri[li] += dqxc[j] * xc[i];
          acc += dqxc[j] * ltri[li];
        }
        dxc[i] = acc;
        dqdiags[ik * d + i] += dqxc[i] * xc[i];
        dmeans[ik * d + i] -= dxc[i];
      }
    }
  }
  /* - n logsumexp(alphas) */
  double mx = alphas[0], s = 0;
  for (int ik = 1; ik < k; ik++) if (alphas[ik] > mx) mx = alphas[ik];
  for (int ik = 0; ik < k; ik++) s += exp(alphas[ik] - mx);
  for (int ik = 0; ik < k; ik++) dalphas[ik] -= n * exp(alphas[ik] - mx) / s;
  /* the Wishart prior, then q -> exp(q) and sum(q) back to icf */
  for (int ik = 0; ik < k; ik++) {
    for (int i = d; i < icf_sz; i++) dicf[ik * icf_sz + i] += gamma * gamma * icf[ik * icf_sz + i];
    for (int i = 0; i < d; i++) {
      double q = qdiags[ik * d + i];
      dicf[ik * icf_sz + i] += dsum_qs[ik] - m + (dqdiags[ik * d + i] + gamma * gamma * q) * q;
    }
  }
  free(qdiags); free(dqdiags); free(sum_qs); free(dsum_qs); free(xc); free(dxc); free(dqxc);
  free(main_term); free(qxcs); free(weights);
}
#endif

typedef struct {
  int d, k, n, m;
  double gamma;
  double *alphas, *means, *icf, *x;        /* primal */
  double *dalphas, *dmeans, *dicf;         /* gradient */
  double *talphas, *tmeans, *ticf;         /* tangents for the forward-mode check */
  double result;
} gmm_t;

static int gmm_nparams(const gmm_t *g) { return g->k + g->k * g->d + g->k * g->d * (g->d + 1) / 2; }

static void gmm_primal(void *ctx) {
  gmm_t *g = (gmm_t *)ctx;
  g->result = gmm_objective(g->d, g->k, g->n, g->alphas, g->means, g->icf, g->x, g->gamma, g->m);
}

static void gmm_gradient(void *ctx) {
  gmm_t *g = (gmm_t *)ctx;
  memset(g->dalphas, 0, sizeof(double) * (size_t)g->k);
  memset(g->dmeans, 0, sizeof(double) * (size_t)(g->k * g->d));
  memset(g->dicf, 0, sizeof(double) * (size_t)(g->k * g->d * (g->d + 1) / 2));
#ifdef GMM_MANUAL
  gmm_gradient_manual(g->d, g->k, g->n, g->alphas, g->dalphas, g->means, g->dmeans, g->icf, g->dicf,
                      g->x, g->gamma, g->m);
  return;
#endif
  __enzyme_autodiff((void *)gmm_objective, enzyme_const, g->d, enzyme_const, g->k,
                    enzyme_const, g->n, enzyme_dup, g->alphas, g->dalphas, enzyme_dup, g->means,
                    g->dmeans, enzyme_dup, g->icf, g->dicf, enzyme_const, g->x, enzyme_const,
                    g->gamma, enzyme_const, g->m);
}

/* flat parameter vector <-> arrays, for the checks */
static void gmm_split(const gmm_t *g, const double *p, double *a, double *mu, double *icf) {
  int k = g->k, kd = g->k * g->d, ni = gmm_nparams(g) - k - kd;
  memcpy(a, p, sizeof(double) * (size_t)k);
  memcpy(mu, p + k, sizeof(double) * (size_t)kd);
  memcpy(icf, p + k + kd, sizeof(double) * (size_t)ni);
}

static double gmm_flat(void *ctx, const double *p) {
  gmm_t *g = (gmm_t *)ctx;
  int np = gmm_nparams(g);
  double *w = BENCH_ALLOC(double, np);
  gmm_split(g, p, w, w + g->k, w + g->k + g->k * g->d);
  double e = gmm_objective(g->d, g->k, g->n, w, w + g->k, w + g->k + g->k * g->d, g->x, g->gamma, g->m);
  free(w);
  return e;
}

static double gmm_fwd(void *ctx, const double *p, const double *v) {
  gmm_t *g = (gmm_t *)ctx;
  int np = gmm_nparams(g), k = g->k, kd = g->k * g->d;
  double *w = BENCH_ALLOC(double, np), *t = BENCH_ALLOC(double, np);
  memcpy(w, p, sizeof(double) * (size_t)np);
  memcpy(t, v, sizeof(double) * (size_t)np);
  double r = __enzyme_fwddiff((void *)gmm_objective, enzyme_const, g->d, enzyme_const, g->k,
                              enzyme_const, g->n, enzyme_dup, w, t, enzyme_dup, w + k, t + k,
                              enzyme_dup, w + k + kd, t + k + kd, enzyme_const, g->x,
                              enzyme_const, g->gamma, enzyme_const, g->m);
  free(w); free(t);
  return r;
}

static void gmm_alloc(gmm_t *g) {
  int k = g->k, d = g->d, icf_sz = d * (d + 1) / 2;
  g->alphas = BENCH_ALLOC(double, k); g->dalphas = BENCH_ALLOC(double, k);
  g->means = BENCH_ALLOC(double, k * d); g->dmeans = BENCH_ALLOC(double, k * d);
  g->icf = BENCH_ALLOC(double, k * icf_sz); g->dicf = BENCH_ALLOC(double, k * icf_sz);
  g->x = BENCH_ALLOC(double, g->n * d);
}

static void gmm_read(gmm_t *g, const char *path) {
  FILE *f = bench_open(path);
  g->d = bench_read_int(f); g->k = bench_read_int(f); g->n = bench_read_int(f);
  gmm_alloc(g);
  int icf_sz = g->d * (g->d + 1) / 2;
  bench_read_doubles(f, g->alphas, g->k);
  bench_read_doubles(f, g->means, g->k * g->d);
  bench_read_doubles(f, g->icf, g->k * icf_sz);
  bench_read_doubles(f, g->x, g->n * g->d);
  g->gamma = bench_read_double(f);
  g->m = bench_read_int(f);
  fclose(f);
}

/* same distributions as ADBench's generator: uniform in [0,1) for all but the means */
static void gmm_generate(gmm_t *g, int d, int k, int n, unsigned long long seed) {
  g->d = d; g->k = k; g->n = n;
  gmm_alloc(g);
  bench_seed(seed);
  int icf_sz = d * (d + 1) / 2;
  bench_fill(g->alphas, k, -1, 1);
  bench_fill(g->means, k * d, 0, 1);
  bench_fill(g->icf, k * icf_sz, -0.5, 0.5);
  bench_fill(g->x, n * d, 0, 1);
  g->gamma = 1.0;
  g->m = 0;
}

int main(int argc, char **argv) {
  bench_opts o = bench_parse(argc, argv);
  gmm_t g;
  memset(&g, 0, sizeof g);
  char kase[64];
  const char *src = bench_arg(&o, 0, "gen");
  if (!strcmp(src, "gen")) {
    int d = atoi(bench_arg(&o, 1, "64")), k = atoi(bench_arg(&o, 2, "100"));
    int n = atoi(bench_arg(&o, 3, "1000"));
    gmm_generate(&g, d, k, n, (unsigned long long)atoll(bench_arg(&o, 4, "1")));
    snprintf(kase, sizeof kase, "gen_d%d_K%d_n%d", d, k, n);
  } else {
    gmm_read(&g, src);
    snprintf(kase, sizeof kase, "d%d_K%d_n%d", g.d, g.k, g.n);
  }
  int np = gmm_nparams(&g);

  /* the gradient, checked before timing */
  bench_first(gmm_gradient, &g);
  double *p = BENCH_ALLOC(double, np), *grad = BENCH_ALLOC(double, np);
  memcpy(p, g.alphas, sizeof(double) * (size_t)g.k);
  memcpy(p + g.k, g.means, sizeof(double) * (size_t)(g.k * g.d));
  memcpy(p + g.k + g.k * g.d, g.icf, sizeof(double) * (size_t)(np - g.k - g.k * g.d));
  memcpy(grad, g.dalphas, sizeof(double) * (size_t)g.k);
  memcpy(grad + g.k, g.dmeans, sizeof(double) * (size_t)(g.k * g.d));
  memcpy(grad + g.k + g.k * g.d, g.dicf, sizeof(double) * (size_t)(np - g.k - g.k * g.d));
  bench_seed(12345);
  bench_check_dirs("gmm gradient", gmm_flat, gmm_fwd, &g, p, grad, np, o.quick ? 2 : 4, 1e-3,
                   1e-6, 1e-9);

  bench_timing t = bench_time(gmm_primal, gmm_gradient, &g, &o);
  char extra[96];
  snprintf(extra, sizeof extra, "\"params\": %d, \"objective\": %.10g", np, g.result);
#ifdef GMM_MANUAL
  bench_report("gmm_manual", kase, "gradient (by hand, reference)", t, extra);
#else
  bench_report("gmm", kase, "gradient (1 reverse sweep)", t, extra);
#endif
  return bench_finish();
}
