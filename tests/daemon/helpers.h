/* Tests drive a real `tidal daemon` process: started in a temporary directory with
 * its own socket, spoken to over the API, killed or stopped by the test. */
#ifndef TIDAL_TEST_DAEMON_HELPERS_H
#define TIDAL_TEST_DAEMON_HELPERS_H

#include "../common/test_env.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

struct test_daemon {
    char dir[256]; /* temporary directory: state/, sock, daemon.err */
    char state[300];
    char socket[300];
    pid_t pid;
};

/* Starts the daemon with extra options (NULL-terminated) and waits for its socket. */
void daemon_start(struct test_daemon *t, const char *const *extra);
/* Starts it again on the same state directory and socket. */
void daemon_restart(struct test_daemon *t, const char *const *extra);
void daemon_kill9(struct test_daemon *t);
void daemon_stop(struct test_daemon *t); /* SIGTERM, waits, removes the directory */

/* One call; returns the HTTP status and, in *out (if non-NULL), the parsed body. */
int api(struct test_daemon *t, const char *method, const char *path, const char *body, cJSON **out);
/* The raw body of a GET (console, metrics), malloc'ed. */
char *api_text(struct test_daemon *t, const char *path, int *status);
const char *jstr(const cJSON *o, const char *dotted);
double jnum(const cJSON *o, const char *dotted);

/* Polls until fn(t, arg) is true; fails the test after `what` waited too long (a
 * generous bound on a hung daemon, not a timing assertion). */
void wait_for(struct test_daemon *t, bool (*fn)(struct test_daemon *, void *), void *arg,
              const char *what);

/* Runs `tidal ARGS...` with TIDAL_SOCKET set; returns the exit status, output in out. */
int run_cli(struct test_daemon *t, const char *const *args, char *out, size_t size);

#endif
