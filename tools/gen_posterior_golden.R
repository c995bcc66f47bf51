#!/usr/bin/env Rscript
# Golden numbers for trusty's MCMC diagnostics (tests/mcmc/diagnostics_golden_test.cpp).
#
# Writes a few synthetic sets of chains to tests/mcmc/golden/<name>.csv (iterations x chains,
# one column per chain, 7 significant digits) and, for each set, the R package posterior's
# value of every diagnostic to tests/mcmc/golden/posterior_golden.csv (17 significant digits,
# "NA" where posterior returns NA). The numbers are computed from the CSV files as read back,
# so the C++ test sees exactly the same inputs.
#
# Usage (from the repository root): Rscript tools/gen_posterior_golden.R
# Needs R and posterior (Debian: r-cran-posterior); the numbers were made with posterior 1.4.0.
suppressPackageStartupMessages(library(posterior))

out_dir <- file.path("tests", "mcmc", "golden")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
set.seed(20261201)

ar1 <- function(n, phi, innov = rnorm) {
  x <- numeric(n)
  x[1] <- innov(1) / sqrt(max(1 - phi^2, 1e-12))
  for (i in 2:n) x[i] <- phi * x[i - 1] + innov(1)
  x
}
chains <- function(n, m, f) sapply(seq_len(m), function(j) f(n))

sets <- list(
  ar1_weak = chains(1000, 4, function(n) ar1(n, 0.3)),
  ar1_strong = chains(1000, 4, function(n) ar1(n, 0.95)),
  # Antithetic chains: tau < 1/log10(S), so the ESS cap is exercised.
  ar1_antithetic = chains(1000, 4, function(n) ar1(n, -0.7)),
  heavy_tailed = chains(1000, 4, function(n) ar1(n, 0.5, function(k) rt(k, df = 2))),
  # Chain 4 sits 2 higher: R-hat well above 1.01.
  shifted = chains(1000, 4, function(n) ar1(n, 0.5)) +
    matrix(rep(c(0, 0, 0, 2), each = 1000), 1000, 4),
  # Integer draws: many ties in the ranks and in the quantile indicators.
  ties = chains(1000, 4, function(n) rpois(n, 3)),
  one_chain = chains(1000, 1, function(n) ar1(n, 0.6)),
  # 9 draws: the split drops the middle draw.
  short_odd = chains(9, 4, rnorm),
  # 5 draws: split chains of 2 draws, too short for an ESS.
  too_short = chains(5, 4, rnorm),
  # One constant chain among random ones (its autocovariance is zero).
  constant_chain = cbind(chains(200, 3, rnorm), rep(1.5, 200)),
  constant = matrix(2.5, 100, 4),
  with_inf = { x <- chains(100, 4, rnorm); x[17, 2] <- Inf; x },
  with_nan = { x <- chains(100, 4, rnorm); x[3, 1] <- NaN; x }
)

rhat_bulk_ <- function(x) posterior:::.rhat(posterior:::z_scale(posterior:::.split_chains(x)))
rhat_tail_ <- function(x) {
  posterior:::.rhat(posterior:::z_scale(posterior:::.split_chains(posterior:::fold_draws(x))))
}
measures <- list(
  rhat_basic = function(x) rhat_basic(x),
  rhat_bulk = rhat_bulk_,
  rhat_tail = rhat_tail_,
  rhat = function(x) rhat(x),
  ess_basic = function(x) ess_basic(x),
  ess_bulk = function(x) ess_bulk(x),
  ess_tail = function(x) ess_tail(x),
  ess_mean = function(x) ess_mean(x),
  ess_sd = function(x) ess_sd(x),
  ess_q0 = function(x) ess_quantile(x, 0, names = FALSE),
  ess_q5 = function(x) ess_quantile(x, 0.05, names = FALSE),
  ess_q50 = function(x) ess_quantile(x, 0.5, names = FALSE),
  ess_q95 = function(x) ess_quantile(x, 0.95, names = FALSE),
  ess_q100 = function(x) ess_quantile(x, 1, names = FALSE),
  mcse_mean = function(x) mcse_mean(x),
  mcse_sd = function(x) mcse_sd(x),
  mcse_q5 = function(x) mcse_quantile(x, 0.05, names = FALSE),
  mcse_q50 = function(x) mcse_quantile(x, 0.5, names = FALSE),
  mcse_q95 = function(x) mcse_quantile(x, 0.95, names = FALSE),
  # summarise_draws' default summary measures.
  mean = function(x) mean(x),
  median = function(x) median(x),
  sd = function(x) sd(x),
  mad = function(x) mad(x),
  q5 = function(x) quantile2(x, 0.05, names = FALSE),
  q95 = function(x) quantile2(x, 0.95, names = FALSE)
)

fmt <- function(v) ifelse(is.na(v) & !is.nan(v), "NA", sprintf("%.17g", v))
rows <- list()
for (name in names(sets)) {
  path <- file.path(out_dir, paste0(name, ".csv"))
  x <- sets[[name]]
  colnames(x) <- paste0("chain", seq_len(ncol(x)))
  write.csv(signif(x, 7), path, row.names = FALSE, quote = FALSE)
  x <- as.matrix(read.csv(path))  # the inputs the C++ test reads
  for (m in names(measures)) {
    v <- suppressWarnings(measures[[m]](x))
    rows[[length(rows) + 1]] <- data.frame(set = name, measure = m, value = fmt(unname(v)))
  }
}
golden <- do.call(rbind, rows)
header <- sprintf("# posterior %s, %s", packageVersion("posterior"), R.version.string)
con <- file(file.path(out_dir, "posterior_golden.csv"), "w")
writeLines(header, con)
write.csv(golden, con, row.names = FALSE, quote = FALSE)
close(con)
cat("wrote", nrow(golden), "golden values for", length(sets), "sets to", out_dir, "\n")
