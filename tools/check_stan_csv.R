#!/usr/bin/env Rscript
# Checks that rstan::read_stan_csv reads trusty's Stan CSV files.
#
# Runs the test StanCsv.WritesChainsForExternalReaders (tests/mcmc/stan_csv_test.cpp), which
# writes four chains (parameters mu, theta.1, theta.2 from the golden sets, 100 saved warmup
# draws + 1000 draws each, diag_e adaptation block) into a temporary directory, reads them with
# rstan, prints rstan's summary, and compares the draws and the diagnostics with posterior's
# on the same draws. Exits non-zero on any disagreement.
#
# Usage (from the repository root, after building test_mcmc):
#   Rscript tools/check_stan_csv.R [path/to/test_mcmc]
suppressPackageStartupMessages({
  suppressWarnings(library(rstan))
  library(posterior)
})

args <- commandArgs(trailingOnly = TRUE)
test_binary <- if (length(args) >= 1) args[1] else file.path("build", "tests", "test_mcmc")
out_dir <- tempfile("trusty_stan_csv_")
dir.create(out_dir)
status <- system2(test_binary, "--gtest_filter=StanCsv.WritesChainsForExternalReaders",
                  env = paste0("TRUSTY_STAN_CSV_OUT=", out_dir), stdout = FALSE)
if (status != 0) stop("running ", test_binary, " failed")
files <- sort(list.files(out_dir, pattern = "^trusty_chain_.*\\.csv$", full.names = TRUE))
if (length(files) != 4) stop("expected 4 CSV files in ", out_dir, ", found ", length(files))

fit <- read_stan_csv(files)
print(fit, digits_summary = 4)

failures <- character()
check <- function(ok, what) {
  cat(if (ok) "ok:   " else "FAIL: ", what, "\n", sep = "")
  if (!ok) failures <<- c(failures, what)
}

# Draws: the post-warmup draws rstan returns must be the golden sets, chain by chain.
golden <- function(name) as.matrix(read.csv(file.path("tests", "mcmc", "golden", paste0(name, ".csv"))))
draws <- as.array(fit)  # iterations x chains x parameters, post-warmup only
check(identical(dim(draws)[1:2], c(1000L, 4L)), "1000 post-warmup draws in each of 4 chains")
for (p in list(c("mu", "ar1_weak"), c("theta[1]", "heavy_tailed"), c("theta[2]", "shifted"))) {
  check(isTRUE(all.equal(unname(draws[, , p[1]]), unname(golden(p[2])), tolerance = 0)),
        paste0(p[1], " draws identical to golden set ", p[2]))
}
check(fit@sim$warmup2[1] == 100, "100 saved warmup draws recognised (warmup2)")

# Sampler information rstan parses from the comments.
check(identical(fit@stan_args[[1]]$sampler_t, "NUTS(diag_e)"), "sampler NUTS(diag_e)")
check(all(sapply(fit@stan_args, function(a) a$chain_id) == 1:4), "chain ids 1..4")
info <- get_adaptation_info(fit)[[1]]
check(grepl("Step size = 0.7312345678901234", info, fixed = TRUE), "adapted step size in adaptation info")
check(grepl("Diagonal elements of inverse mass matrix", info, fixed = TRUE), "inverse metric in adaptation info")
times <- get_elapsed_time(fit)
check(isTRUE(all.equal(unname(times[1, ]), c(0.125, 2.5))), "elapsed times 0.125 s warmup, 2.5 s sampling")
sp <- get_sampler_params(fit, inc_warmup = FALSE)[[1]]
check(all(c("accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__",
            "energy__") %in% colnames(sp)), "sampler columns")

# rstan's summary against posterior on the same draws: rstan's Rhat is the classic split R-hat
# (posterior's rhat_basic); its n_eff is its own ESS estimate, printed for comparison only.
s <- summary(fit)$summary
for (p in c("mu", "theta[1]", "theta[2]")) {
  x <- draws[, , p]
  check(isTRUE(all.equal(s[p, "mean"], mean(x), tolerance = 1e-12)), paste(p, "mean"))
  check(isTRUE(all.equal(unname(s[p, "Rhat"]), rhat_basic(x), tolerance = 1e-6)),
        paste(p, "rstan Rhat = posterior rhat_basic"))
  cat(sprintf("      %-9s rstan Rhat %.5f n_eff %.1f | posterior rhat %.5f ess_bulk %.1f\n",
              p, s[p, "Rhat"], s[p, "n_eff"], rhat(x), ess_bulk(x)))
}

unlink(out_dir, recursive = TRUE)
if (length(failures)) {
  cat(length(failures), "check(s) failed\n")
  quit(status = 1)
}
cat("rstan read trusty's Stan CSV files: all checks passed\n")
