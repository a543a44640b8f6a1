// Worker threads for the few things that must not run on the loop: password hashing (argon2id),
// PAM conversations and fetching the OIDC issuer's keys. The loop hands over a job and gets its
// result back as a loop event.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_WORKER_H
#define BL_WORKER_H

#include <stdbool.h>

struct event_base;
typedef struct bl_worker bl_worker_t;

// Runs in a worker thread: must touch nothing of the loop's (only its own arg).
typedef void (*bl_work_fn)(void *arg);
// Runs on the loop after work finished.
typedef void (*bl_work_done_fn)(void *arg);

// Starts `threads` workers (1..16). NULL on failure (logged).
bl_worker_t *bl_worker_create(struct event_base *base, int threads);
// Stops the threads after the queued work (done callbacks of unfinished work are not called).
void bl_worker_delete(bl_worker_t *w);
// Queues work; done(arg) follows on the loop. false when the queue is full (the caller
// answers 503) or out of memory.
bool bl_worker_submit(bl_worker_t *w, bl_work_fn work, bl_work_done_fn done, void *arg);

#endif
