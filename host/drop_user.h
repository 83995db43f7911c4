/* Least privilege for serve and daemon (host/drop_user.c). */
#ifndef TIDAL_DROP_USER_H
#define TIDAL_DROP_USER_H

#include "tidal/err.h"

/* Opens the KVM device (kept for the process's life), then becomes user NAME with
 * its groups, for good. 0, or -1 naming what failed. */
int tidal_drop_user(const char *user, struct tidal_err *err);

/* Gives path (and, for a directory, everything under it, following no symbolic
 * link) to user NAME and its group, so that the process still works there after
 * the drop: the daemon's state directory, its cgroup. 0, or -1 naming the path. */
int tidal_hand_over(const char *path, const char *user, struct tidal_err *err);

#endif
