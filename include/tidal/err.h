/* One error-reporting helper for the host side: a failure is a message, not a crash. */
#ifndef TIDAL_ERR_H
#define TIDAL_ERR_H

struct tidal_err {
    char msg[512];
};

/* Formats the message; returns -1 so that callers can `return tidal_err_set(...)`. */
int tidal_err_set(struct tidal_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
