/* Reverse mode over a scratch array refilled on every iteration of an outer loop (the shape
 * of ADBench's GMM: xc = x_p - mu_k, then reads of xc), called repeatedly and from several
 * threads. The reads of xc are re-derived from x and mu rather than recorded (store
 * forwarding); a finished tape's buffer is kept for the thread's next call (tape reuse),
 * so the repeated calls and the threads check that a reused buffer gives the same
 * gradient and that no buffer is shared between threads. */
#include "radx_fwd.h"
#include <pthread.h>

void __enzyme_autodiff(void *, ...);

enum { D = 5, K = 3, P = 7 };

NOINLINE double scratch_objective(const double *x, const double *mu, const double *w, int d, int k, int p) {
  double *xc = malloc(sizeof(double) * (size_t)d);
  double s = 0;
  for (int ip = 0; ip < p; ip++)
    for (int ik = 0; ik < k; ik++) {
      for (int i = 0; i < d; i++) xc[i] = x[ip * d + i] - mu[ik * d + i];
      for (int i = 0; i < d; i++) s += w[i] * sin(xc[i]) * xc[i];
    }
  free(xc);
  return s;
}

static double x[P * D], w[D];

static void expected(const double *mu, double *g) {
  for (int j = 0; j < K * D; j++) g[j] = 0;
  for (int ip = 0; ip < P; ip++)
    for (int ik = 0; ik < K; ik++)
      for (int i = 0; i < D; i++) {
        double c = x[ip * D + i] - mu[ik * D + i];
        g[ik * D + i] -= w[i] * (cos(c) * c + sin(c));
      }
}

static int gradient_matches(double shift) {
  double mu[K * D], dmu[K * D] = {0}, want[K * D];
  for (int j = 0; j < K * D; j++) mu[j] = 0.05 * j - 0.4 + shift;
  __enzyme_autodiff((void *)scratch_objective, enzyme_const, x, enzyme_dup, mu, dmu, enzyme_const, w,
                    enzyme_const, D, enzyme_const, K, enzyme_const, P);
  expected(mu, want);
  int ok = 1;
  for (int j = 0; j < K * D; j++) ok &= fabs(dmu[j] - want[j]) <= 1e-12 * (1 + fabs(want[j]));
  return ok;
}

static void *worker(void *arg) {
  double shift = *(double *)arg;
  long ok = 1;
  for (int r = 0; r < 20; r++) ok &= gradient_matches(shift + 0.01 * r);
  return (void *)ok;
}

int main(void) {
  for (int i = 0; i < P * D; i++) x[i] = sin(0.7 * i);
  for (int i = 0; i < D; i++) w[i] = 1.0 + 0.25 * i;
  double mu[K * D], dmu[K * D] = {0}, want[K * D];
  for (int j = 0; j < K * D; j++) mu[j] = 0.05 * j - 0.4;
  __enzyme_autodiff((void *)scratch_objective, enzyme_const, x, enzyme_dup, mu, dmu, enzyme_const, w,
                    enzyme_const, D, enzyme_const, K, enzyme_const, P);
  expected(mu, want);
  for (int j = 0; j < K * D; j++) CHECK_CLOSE(dmu[j], want[j], 1e-12);
  /* repeated calls on this thread: later calls run on the first call's tape buffer */
  for (int r = 0; r < 5; r++) CHECK(gradient_matches(0.1 * r), 1);
  /* threads: each its own buffer */
  pthread_t t[3];
  double shifts[3] = {0.3, -0.2, 0.7};
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, &shifts[i]);
  for (int i = 0; i < 3; i++) {
    void *ok;
    pthread_join(t[i], &ok);
    CHECK((double)(long)ok, 1);
  }
  return RADX_FINISH();
}
