# rstan side of bench/bench_sample.py (driven by it through Rscript; not meant to be run by hand).
#
#   Rscript stan_bnn.R compile MODEL.stan OUT.rds
#       Compiles the model once and saves the stanmodel (with its shared library) to OUT.rds.
#       Prints "compile_seconds S".
#   Rscript stan_bnn.R sample MODEL.rds DATA_DIR OUT_DIR WARMUP SAMPLES SEED
#       One NUTS chain (rstan defaults: diagonal metric, adapt_delta 0.8, max_treedepth 10) on
#       DATA_DIR/{x,y,x_pred}.csv and DATA_DIR/settings.csv. Writes OUT_DIR/stan_f.csv (the
#       post-warmup draws of f at each x_pred, one column per point), OUT_DIR/stan_sampler.csv
#       (the sampler parameters of every iteration, warmup included) and OUT_DIR/stan_time.csv:
#       warmup and sample, the seconds of get_elapsed_time, which in rstan 2.21 are CPU seconds
#       of the process (Stan 2.21 times them with clock()); wall, the wall-clock seconds of the
#       sampling() call (warmup + sampling, plus initialisation and rstan's bookkeeping, which
#       are small beside minutes of sampling); call_cpu, the CPU seconds of that call (against
#       warmup + sample: what the bookkeeping costs).
#   Rscript stan_bnn.R diag OUT.csv NAME=DRAWS.csv ...
#       For each draw set (a headerless CSV, iterations x chains) posterior's ess_bulk,
#       ess_tail, rhat, mean, sd, mcse_mean and mcse_sd: one estimator for every side.
#
# Boost on Debian 12: r-cran-bh is an empty stub (BH's include/ directory is missing), so
# rstan_options("boost_lib") points nowhere and stan_model() stops with "Boost not found".
# The system headers (libboost-dev, Boost 1.74, the version Debian's rstan 2.21.7 is built
# against) are passed with stan_model(boost_lib = "/usr/include"), which adds
# -I"/usr/include" to the compile line. Nothing else is overridden: the model is compiled
# with R's own Makeconf flags (Debian: -g -O2 ... -std=gnu++14); no ~/.R/Makevars is read or
# written (R_MAKEVARS_USER is pointed at an empty file by the driver). TRUSTY_BENCH_BOOST
# overrides the Boost directory.

args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]

read_num_csv <- function(path) as.matrix(read.csv(path, header = FALSE, colClasses = "numeric"))

if (mode == "compile") {
  suppressPackageStartupMessages(library(rstan))
  boost <- Sys.getenv("TRUSTY_BENCH_BOOST", "/usr/include")
  t0 <- Sys.time()
  m <- stan_model(file = args[2], model_name = "bnn", boost_lib = boost, save_dso = TRUE)
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  saveRDS(m, args[3])
  cat(sprintf("compile_seconds %.3f\n", secs))
} else if (mode == "sample") {
  suppressPackageStartupMessages(library(rstan))
  m <- readRDS(args[2])
  dir <- args[3]
  out <- args[4]
  warmup <- as.integer(args[5])
  samples <- as.integer(args[6])
  seed <- as.integer(args[7])
  x <- read_num_csv(file.path(dir, "x.csv"))
  y <- read_num_csv(file.path(dir, "y.csv"))
  xp <- read_num_csv(file.path(dir, "x_pred.csv"))
  s <- read.csv(file.path(dir, "settings.csv"))
  data <- list(N = nrow(x), H = as.integer(s$hidden), x = x, y = as.vector(y[, 1]),
               sigma = s$noise, prior_scale = s$prior_scale, M = nrow(xp), x_pred = xp)
  t0 <- Sys.time()
  c0 <- proc.time()
  fit <- sampling(m, data = data, chains = 1, cores = 1, iter = warmup + samples,
                  warmup = warmup, seed = seed, refresh = 0, pars = "f_pred")
  wall <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  dc <- proc.time() - c0
  call_cpu <- as.numeric(dc[["user.self"]] + dc[["sys.self"]])
  f <- as.matrix(fit, pars = "f_pred")  # post-warmup draws x points
  write.table(f, file.path(out, "stan_f.csv"), sep = ",", row.names = FALSE, col.names = FALSE)
  sp <- get_sampler_params(fit, inc_warmup = TRUE)[[1]]
  write.csv(sp, file.path(out, "stan_sampler.csv"), row.names = FALSE)
  et <- get_elapsed_time(fit)
  write.csv(data.frame(warmup = et[1, "warmup"], sample = et[1, "sample"], wall = wall,
                       call_cpu = call_cpu),
            file.path(out, "stan_time.csv"), row.names = FALSE)
} else if (mode == "logprob") {
  # Rscript stan_bnn.R logprob MODEL.rds DATA_DIR THETA.csv OUT.csv: log density (constants
  # dropped, as `~` does) and gradient at each row of THETA.csv (Stan's unconstrained order:
  # W1, b1, W2, b2, W3, b3, matrices column-major). OUT.csv: lp, then the gradient, per row.
  suppressPackageStartupMessages(library(rstan))
  m <- readRDS(args[2])
  dir <- args[3]
  x <- read_num_csv(file.path(dir, "x.csv"))
  y <- read_num_csv(file.path(dir, "y.csv"))
  xp <- read_num_csv(file.path(dir, "x_pred.csv"))
  s <- read.csv(file.path(dir, "settings.csv"))
  data <- list(N = nrow(x), H = as.integer(s$hidden), x = x, y = as.vector(y[, 1]),
               sigma = s$noise, prior_scale = s$prior_scale, M = nrow(xp), x_pred = xp)
  fit <- sampling(m, data = data, chains = 0)  # the model instance, no draws
  th <- read_num_csv(args[4])
  out <- t(apply(th, 1, function(v) {
    g <- grad_log_prob(fit, v, adjust_transform = FALSE)
    c(attr(g, "log_prob"), as.vector(g))
  }))
  write.table(out, args[5], sep = ",", row.names = FALSE, col.names = FALSE)
} else if (mode == "diag") {
  suppressPackageStartupMessages(library(posterior))
  rows <- list()
  for (a in args[-(1:2)]) {
    kv <- strsplit(a, "=", fixed = TRUE)[[1]]
    d <- read_num_csv(kv[2])  # iterations x chains
    rows[[length(rows) + 1]] <- data.frame(
      name = kv[1], iterations = nrow(d), chains = ncol(d),
      ess_bulk = ess_bulk(d), ess_tail = ess_tail(d), rhat = rhat(d),
      mean = mean(d), sd = sd(as.vector(d)), mcse_mean = mcse_mean(d), mcse_sd = mcse_sd(d))
  }
  write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
} else {
  stop("usage: stan_bnn.R compile|sample|logprob|diag ...")
}
