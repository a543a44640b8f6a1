// The launcher: a small process that keeps root when blattd drops it, and starts the sandboxed
// filters and backends (and checks PAM passwords) on blattd's behalf.
// Licensed under the Apache License, Version 2.0.
//
// blattd starts as root, forks the launcher, binds its ports, opens its state and then becomes
// its User. From then on it cannot change uids, mount a tmpfs or reach other users' processes;
// the launcher can, and does exactly two things for it over socketpairs:
//
// - spawn: fork + exec of HelperDir/blatt-exec with the pipes blattd made (SCM_RIGHTS). The
//   request is checked before anything runs: the program must be blatt-exec itself, its
//   command line must drop to a sandbox uid (--uid in SandboxUIDBase..+1024, --gid the base or
//   the uid itself) and name a program in FilterDir, BackendDir or HelperDir, and the cwd must
//   be StateDir/tmp or "/". A compromised blattd can therefore run nothing but Blatt's own
//   programs, and only inside the sandbox. Kill requests reach only the launcher's own
//   children, or every process of one sandbox uid (a job that ended: kill(-1) as that uid);
//   exit statuses come back as events.
// - pam: one pam_authenticate + pam_acct_mgmt, in a second root process (PAM modules such as
//   pam_unix need root to read /etc/shadow; a slow or failing check must not hold up spawns).
//
// Both exit when blattd goes away (EOF, and PR_SET_PDEATHSIG), killing what they started.
#ifndef BL_LAUNCHER_H
#define BL_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct bl_launcher_conf {
    const char *helper;      // HelperDir/blatt-exec
    const char *dirs[3];     // FilterDir, BackendDir, HelperDir: where programs may come from
    const char *tmp_dir;     // StateDir/tmp: the cwd of job stages
    unsigned uid_base;       // SandboxUIDBase
    const char *pam_service; // "" = no PAM process
} bl_launcher_conf_t;

// Forks the launcher (and the PAM process): call as root, before the event loop exists and
// before dropping privileges. false with errno on failure.
bool bl_launcher_start(const bl_launcher_conf_t *conf);
// Whether spawns go through the launcher.
bool bl_launcher_active(void);
// Starts path (blatt-exec) with argv/envp in cwd, stdin/stdout/stderr from in/out/err (the
// caller still closes them). The child leads its own process group. pid, or -1 with errno.
pid_t bl_launcher_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        int in, int out, int err);
// Sends sig to the process group of a child the launcher started. false with errno.
bool bl_launcher_kill(pid_t pgid, int sig);
// Kills every process of sandbox uid (SandboxUIDBase .. +1024) with SIGKILL. false with errno.
bool bl_launcher_kill_uid(uid_t uid);
// Readable when exit statuses arrive; bl_launcher_next_exit reads one (false: none left).
int bl_launcher_event_fd(void);
bool bl_launcher_next_exit(pid_t *pid, int *status);
// Checks a password with PAM in the PAM process (blocking: call from a worker thread; calls
// are serialised). false when refused or when there is no PAM process.
bool bl_launcher_pam(const char *user, const char *password);
bool bl_launcher_has_pam(void);
// One pam_authenticate + pam_acct_mgmt of service in this process (the PAM process's check;
// blattd calls it on a worker thread when it kept root and has no launcher). Blocking.
bool bl_pam_check(const char *service, const char *user, const char *password);

#endif
