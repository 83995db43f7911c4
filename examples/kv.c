/* A key-value store: builds a table of 100,000 entries at init (the costly part a
 * snapshot saves), waits at tidal_ready(), then answers one request per input line:
 * "KEY" looks KEY up ("KEY=VALUE" or "KEY: not found"); "KEY=VALUE" (VALUE a number,
 * decimal or 0x hex) stores it ("stored KEY"). Writes live in guest memory, so a
 * migrated or snapshotted store keeps them. */
#include "tidal/guest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRIES 100000
#define BUCKETS (1u << 17)

struct entry {
    char key[16];
    uint64_t value;
    struct entry *next;
};

static struct entry *buckets[BUCKETS];

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int build_table(void)
{
    struct entry *entries = calloc(ENTRIES, sizeof(*entries));
    if (!entries)
        return -1;
    uint64_t v = 88172645463325252ull;
    for (unsigned i = 0; i < ENTRIES; i++) {
        struct entry *e = &entries[i];
        snprintf(e->key, sizeof(e->key), "k%u", i);
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        e->value = v;
        uint32_t b = hash(e->key) & (BUCKETS - 1);
        e->next = buckets[b];
        buckets[b] = e;
    }
    return 0;
}

static struct entry *lookup(const char *key)
{
    for (struct entry *e = buckets[hash(key) & (BUCKETS - 1)]; e; e = e->next)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

static void store(const char *key, const char *value)
{
    char *end;
    unsigned long long v = strtoull(value, &end, 0);
    if (!key[0] || strlen(key) >= sizeof(((struct entry *)0)->key) || !value[0] || *end) {
        printf("%s: bad write (expected KEY=NUMBER, KEY shorter than 16 bytes)\n", key);
        return;
    }
    struct entry *e = lookup(key);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            printf("%s: out of memory\n", key);
            return;
        }
        strcpy(e->key, key);
        uint32_t b = hash(key) & (BUCKETS - 1);
        e->next = buckets[b];
        buckets[b] = e;
    }
    e->value = v;
    printf("stored %s\n", key);
}

int main(void)
{
    if (build_table()) {
        fprintf(stderr, "kv: out of memory building the table\n");
        return 1;
    }
    tidal_ready();
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = 0;
            store(line, eq + 1);
            continue;
        }
        const struct entry *e = lookup(line);
        if (e)
            printf("%s=%016llx\n", line, (unsigned long long)e->value);
        else
            printf("%s: not found\n", line);
    }
    return 0;
}
