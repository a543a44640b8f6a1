// Worker threads for password hashing and PAM; results come back to the loop as an event.
// Licensed under the Apache License, Version 2.0.
//
// A fixed pool pulls items from a bounded queue under a mutex; a finished item goes to the
// done list and an eventfd wakes the loop, which runs the done callbacks. Work functions never
// touch loop state, so the loop itself stays single-threaded.
#include "server/worker.h"

#include "server/log.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define QUEUE_MAX 1024
#define MAX_THREADS 16

typedef struct item {
    struct item *next;
    bl_work_fn work;
    bl_work_done_fn done;
    void *arg;
} item_t;

struct bl_worker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    item_t *todo, *todo_tail, *finished;
    size_t queued;
    bool stopping;
    pthread_t threads[MAX_THREADS];
    int num_threads;
    int efd;
    struct event *ev;
};

static void *run(void *arg)
{
    bl_worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->todo && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->todo)
            break;
        item_t *it = w->todo;
        w->todo = it->next;
        if (!w->todo)
            w->todo_tail = NULL;
        pthread_mutex_unlock(&w->lock);
        it->work(it->arg);
        pthread_mutex_lock(&w->lock);
        it->next = w->finished;
        w->finished = it;
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof(one));
        (void)n;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void on_finished(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bl_worker_t *w = arg;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&w->lock);
    item_t *list = w->finished;
    w->finished = NULL;
    pthread_mutex_unlock(&w->lock);
    while (list) {
        item_t *it = list;
        list = it->next;
        w->queued--;
        it->done(it->arg);
        free(it);
    }
}

bl_worker_t *bl_worker_create(struct event_base *base, int threads)
{
    if (threads < 1 || threads > MAX_THREADS)
        return NULL;
    bl_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->ev = w->efd >= 0 ? event_new(base, w->efd, EV_READ | EV_PERSIST, on_finished, w) : NULL;
    if (!w->ev || event_add(w->ev, NULL) != 0) {
        bl_log(BL_LOG_ERROR, "worker: cannot set up: %s", strerror(errno));
        bl_worker_delete(w);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&w->threads[i], NULL, run, w) != 0) {
            bl_log(BL_LOG_ERROR, "worker: cannot start a thread");
            bl_worker_delete(w);
            return NULL;
        }
        w->num_threads++;
    }
    return w;
}

void bl_worker_delete(bl_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->num_threads; i++)
        pthread_join(w->threads[i], NULL);
    for (item_t *it = w->todo, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    for (item_t *it = w->finished, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    if (w->ev)
        event_free(w->ev);
    if (w->efd >= 0)
        close(w->efd);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

bool bl_worker_submit(bl_worker_t *w, bl_work_fn work, bl_work_done_fn done, void *arg)
{
    if (w->queued >= QUEUE_MAX)
        return false;
    item_t *it = calloc(1, sizeof(*it));
    if (!it)
        return false;
    *it = (item_t){NULL, work, done, arg};
    w->queued++;
    pthread_mutex_lock(&w->lock);
    if (w->todo_tail)
        w->todo_tail->next = it;
    else
        w->todo = it;
    w->todo_tail = it;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return true;
}
