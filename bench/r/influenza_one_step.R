# R's side of bench/bench_one_step.py: the influenza power-law hhh4 model, refitted
# each week (oneStepAhead, type "rolling", warm start from the previous fit) over the
# last N weeks. Writes the predictions and timing to the folder given as argument 1.
# Usage: Rscript bench/r/influenza_one_step.R OUTDIR [N_WEEKS]
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
weeks <- if (length(args) > 1) as.integer(args[2]) else 53L
suppressMessages(library(surveillance))
data("fluBYBW")
neighbourhood(fluBYBW) <- nbOrder(neighbourhood(fluBYBW), maxlag = Inf)
model <- list(
  end = list(f = addSeason2formula(~ 1 + t, S = 3, period = 52), offset = population(fluBYBW)),
  ar = list(f = ~ 1),
  ne = list(f = ~ 1, weights = W_powerlaw(maxlag = 5)),
  family = "NegBin1"
)
fit <- hhh4(fluBYBW, model)
n <- nrow(fluBYBW)
started <- Sys.time()
osa <- oneStepAhead(fit, tp = c(n - weeks, n - 1), type = "rolling", which.start = "current", verbose = FALSE)
seconds <- as.numeric(difftime(Sys.time(), started, units = "secs"))
scores <- colMeans(scores(osa, which = c("rps", "logs"), individual = TRUE, reverse = FALSE), dims = 2)
write.csv(
  data.frame(
    week = rep(as.integer(rownames(osa$pred)), ncol(osa$pred)),
    unit_id = rep(colnames(osa$pred), each = nrow(osa$pred)),
    y = as.vector(osa$observed), mu = as.vector(osa$pred),
    psi = rep(as.vector(osa$psi), ncol(osa$pred))
  ),
  file.path(out, "predictions.csv"), row.names = FALSE
)
write.csv(
  data.frame(seconds = seconds, rps = scores[["rps"]], logs = scores[["logs"]],
             loglik = as.numeric(logLik(fit)), version = as.character(packageVersion("surveillance"))),
  file.path(out, "summary.csv"), row.names = FALSE
)
