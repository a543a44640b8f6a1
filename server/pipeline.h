// The job pipeline: decrypt from the spool -> filters -> backend, as child processes on pipes.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_PIPELINE_H
#define BL_PIPELINE_H

#include "server/job.h"

// Plans and starts the chain for a pending job with a spooled document (job->printer's
// active job). On failure the job ends (aborted) before this returns.
void bl_pipeline_start(bl_job_t *job);
// Stops a running chain; its exit handler moves the job on.
void bl_pipeline_cancel(bl_job_t *job);

#endif
