/* --user for serve and daemon: what needs root (the KVM device, a low port, cgroups,
 * the state directory) is opened first; then the process becomes the user, with the
 * user's groups (so /dev/kvm stays reachable through its group for VMs created
 * later, if the device's mode allows it; the handle already open stays valid either
 * way). There is no way back: setuid(0) must fail afterwards, or the drop failed. */
#include "drop_user.h"
#include "tidal/monitor.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

int tidal_drop_user(const char *user, struct tidal_err *err)
{
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return tidal_err_set(err, "--user %.100s: no such user", user);
    if (tidal_kvm_available(err))
        return -1;
    if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
        return tidal_err_set(err, "--user %.100s: cannot become uid %u gid %u: %s", user,
                             (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, strerror(errno));
    if (pw->pw_uid != 0 && setuid(0) == 0)
        return tidal_err_set(err, "--user %.100s: root could be regained after the drop", user);
    return 0;
}

static uid_t hand_uid;
static gid_t hand_gid;
static char hand_failed[600];

static int hand_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    if (lchown(path, hand_uid, hand_gid) && errno != ENOENT) {
        snprintf(hand_failed, sizeof(hand_failed), "%.300s: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

int tidal_hand_over(const char *path, const char *user, struct tidal_err *err)
{
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return tidal_err_set(err, "--user %.100s: no such user", user);
    hand_uid = pw->pw_uid;
    hand_gid = pw->pw_gid;
    hand_failed[0] = 0;
    if (nftw(path, hand_entry, 16, FTW_PHYS) && hand_failed[0])
        return tidal_err_set(err, "--user %.100s: cannot hand over %s", user, hand_failed);
    return 0;
}
