/* The leader's placement on instances small enough to check by hand. */
#include "../../host/daemon/cluster_place.h"

#include <criterion/criterion.h>
#include <string.h>

#define MIB (1ull << 20)

static struct place_host host(const char *name, uint64_t mem_mib)
{
    struct place_host h = {.cpus = 2, .mem = mem_mib * MIB};
    strcpy(h.name, name);
    return h;
}

static struct place_vm vm(const char *name, uint64_t mem_mib, const char *on, uint64_t epoch)
{
    struct place_vm v = {.cpus = 1, .mem = mem_mib * MIB, .active = true, .epoch = epoch};
    strcpy(v.name, name);
    strcpy(v.host, on);
    return v;
}

Test(place, vms_on_live_hosts_stay_and_new_ones_go_where_most_memory_is_free)
{
    struct place_host hosts[] = {host("a", 1024), host("b", 1024)};
    struct place_vm vms[] = {vm("x", 512, "a", 3), vm("y", 256, "", 0)};
    cr_assert_eq(cluster_place(hosts, 2, vms, 2), 1);
    cr_assert_str_eq(vms[0].host, "a");
    cr_assert_eq(vms[0].epoch, 3);
    cr_assert(!vms[0].moved);
    cr_assert_str_eq(vms[1].host, "b");
    cr_assert_eq(vms[1].epoch, 1);
    cr_assert(vms[1].moved);
    cr_assert_eq(hosts[0].used_mem, 512 * MIB);
    cr_assert_eq(hosts[1].used_mem, 256 * MIB);
}

Test(place, a_dead_hosts_vms_move_with_a_new_epoch_largest_first)
{
    /* "c" is gone: its VMs go largest first to the host with the most free memory. */
    struct place_host hosts[] = {host("a", 1000), host("b", 1000)};
    struct place_vm vms[] = {vm("s", 200, "c", 7), vm("m", 300, "c", 2), vm("l", 700, "c", 4),
                             vm("k", 100, "b", 1)};
    cr_assert_eq(cluster_place(hosts, 2, vms, 4), 3);
    cr_assert_str_eq(vms[2].host, "a"); /* a: 1000 free, b: 900 */
    cr_assert_eq(vms[2].epoch, 5);
    cr_assert_str_eq(vms[1].host, "b"); /* a: 300, b: 900 */
    cr_assert_str_eq(vms[0].host, "b"); /* a: 300, b: 600 */
    cr_assert_eq(vms[0].epoch, 8);
    cr_assert_eq(vms[3].epoch, 1);
    cr_assert(!vms[3].moved);
}

Test(place, what_fits_nowhere_is_left_unplaced_and_inactive_vms_are_ignored)
{
    struct place_host hosts[] = {host("a", 512)};
    struct place_vm vms[] = {vm("big", 1024, "", 0), vm("done", 512, "gone", 2),
                             vm("ok", 512, "", 0)};
    vms[1].active = false;
    cr_assert_eq(cluster_place(hosts, 1, vms, 3), 1);
    cr_assert(vms[0].unplaced);
    cr_assert_str_eq(vms[0].host, "");
    cr_assert(!vms[1].moved);
    cr_assert_str_eq(vms[1].host, "gone");
    cr_assert_str_eq(vms[2].host, "a");
}

Test(place, no_live_host_places_nothing)
{
    struct place_vm vms[] = {vm("x", 64, "dead", 1)};
    cr_assert_eq(cluster_place(NULL, 0, vms, 1), 0);
    cr_assert(vms[0].unplaced);
    cr_assert_eq(vms[0].epoch, 1);
}
