// Helpers of the unit tests that run the store on an event loop and fail its commits like a
// full disk (a file size limit of one byte). Include after <cmocka.h>.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_TEST_LOOP_H
#define BL_TEST_LOOP_H

#include <event2/event.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

// An event base with the daemon's three priorities.
static inline struct event_base *test_base(void)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    assert_int_equal(event_base_priority_init(base, 3), 0);
    return base;
}

// Runs the loop for about steps * 5 ms.
static inline void test_spin(struct event_base *base, int steps)
{
    for (int i = 0; i < steps; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
}

// Every write past the first byte of any file fails (EFBIG), as on a full disk; *old keeps
// the limit for test_disk_back().
static inline void test_disk_full(struct rlimit *old)
{
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
    struct rlimit tiny = *old;
    tiny.rlim_cur = 1;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
}

static inline void test_disk_back(const struct rlimit *old)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, old), 0);
}

#endif
