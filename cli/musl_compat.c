/* The lean binary links Debian's libseccomp.a, compiled against glibc with
 * fortification: its filter-printing code (never called here) refers to glibc's
 * checked fprintf. musl has none, so this one forwards to vfprintf. */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}
