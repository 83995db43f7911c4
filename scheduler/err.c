/* The scheduler's error helper: every user-caused failure becomes a message. */
#include "sched_internal.h"

#include <stdarg.h>
#include <stdio.h>

int tsched_errf(struct tsched_err *err, const char *fmt, ...)
{
    if (err) {
        err->code = TSCHED_E_INPUT;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tsched_errc(struct tsched_err *err, int rc, enum tsched_err_code code)
{
    if (err)
        err->code = code;
    return rc;
}
