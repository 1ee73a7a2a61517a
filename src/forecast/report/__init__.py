"""What notebooks show: report tables (:mod:`.tables`) and the notebook/HTML helpers (:mod:`.notebook`)."""
