// The sampler benchmark's Bayesian network for rstan (bench/bench_sample.py): a 1-H-H-1 tanh
// MLP, N(0, prior_scale) priors on every weight and bias, Gaussian likelihood with fixed sigma.
// The same log posterior as trusty's `kind = "bnn"` target and bench/torch_hmc.py (up to
// constants). f_pred is the network output at each x_pred, one value per draw.
data {
  int<lower=1> N;
  int<lower=1> H;
  matrix[N, 1] x;
  vector[N] y;
  real<lower=0> sigma;
  real<lower=0> prior_scale;
  int<lower=0> M;
  matrix[M, 1] x_pred;
}
parameters {
  matrix[1, H] W1;
  vector[H] b1;
  matrix[H, H] W2;
  vector[H] b2;
  matrix[H, 1] W3;
  vector[1] b3;
}
model {
  // Written vectorised, as a Stan user would for speed: one matrix product per layer.
  matrix[N, H] h1 = tanh(x * W1 + rep_matrix(b1', N));
  matrix[N, H] h2 = tanh(h1 * W2 + rep_matrix(b2', N));
  vector[N] f = col(h2 * W3, 1) + b3[1];
  y ~ normal(f, sigma);
  to_vector(W1) ~ normal(0, prior_scale);
  b1 ~ normal(0, prior_scale);
  to_vector(W2) ~ normal(0, prior_scale);
  b2 ~ normal(0, prior_scale);
  to_vector(W3) ~ normal(0, prior_scale);
  b3 ~ normal(0, prior_scale);
}
generated quantities {
  vector[M] f_pred;
  {
    matrix[M, H] g1 = tanh(x_pred * W1 + rep_matrix(b1', M));
    matrix[M, H] g2 = tanh(g1 * W2 + rep_matrix(b2', M));
    f_pred = col(g2 * W3, 1) + b3[1];
  }
}
