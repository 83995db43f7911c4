/* tidal_progress(): how far a batch guest is, for the host daemon's progress bar. */
#include "guest.h"
#include "tidal/guest.h"

int tidal_progress(uint64_t done, uint64_t total)
{
    return (int)tidal_hypercall(TIDAL_CALL_PROGRESS, done, total, 0);
}
