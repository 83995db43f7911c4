/* For `tidal run` and `tidal restore` whose stdout is not a terminal: a thread that
 * drains the guest's console ring every 100 ms while it runs, as the daemon does, so
 * output piped to another program lags the guest by that much at most. (With a
 * terminal, guestlib ends every write with a call instead: no thread is needed.) */
#ifndef TIDAL_CLI_CONSOLE_TIMER_H
#define TIDAL_CLI_CONSOLE_TIMER_H

#include "tidal/monitor.h"

#include <pthread.h>
#include <stdbool.h>

struct console_timer {
    struct tidal_vm *vm;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, running;
};

/* Starts draining `vm` unless `stdout_is_tty`. Without a thread (none could be made)
 * the guest's output still comes out at its exits. */
void console_timer_start(struct console_timer *t, struct tidal_vm *vm, bool stdout_is_tty);
/* Stops at once (before the VM is destroyed); harmless when never started. */
void console_timer_stop(struct console_timer *t);

#endif
