"""Report runs: parameters (:mod:`.params`), papermill execution, publishing, locking and scheduling (:mod:`.run`)."""
