/* The request log of `tidal serve`: one line per request on stderr. */
#include "server.h"

#include "tidal/escape.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The method and path are the client's: escaped, they cannot forge a line. */
void tidal_serve_log(struct tidal_server *srv, const char *raw_method, const char *raw_url,
                     const char *function, unsigned status, uint64_t ns,
                     const struct tidal_invocation *inv)
{
    char method[64], url[1024];
    tidal_escape(raw_method, strlen(raw_method), method, sizeof(method));
    tidal_escape(raw_url, strlen(raw_url), url, sizeof(url));
    unsigned long long exits = inv ? inv->exits : 0, pf = inv ? inv->pf_taken : 0,
                       vm_requests = inv ? inv->vm_requests : 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    double ms = (double)ns / 1e6;
    if (srv->cfg->log_format == TIDAL_LOG_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", when);
        cJSON_AddStringToObject(o, "method", method);
        cJSON_AddStringToObject(o, "path", url);
        cJSON_AddStringToObject(o, "function", function);
        cJSON_AddNumberToObject(o, "status", status);
        cJSON_AddNumberToObject(o, "latency_ms", ms);
        cJSON_AddNumberToObject(o, "exits", (double)exits);
        if (vm_requests) {
            cJSON_AddNumberToObject(o, "pf_taken", (double)pf);
            cJSON_AddNumberToObject(o, "vm_requests", (double)vm_requests);
        }
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (line) {
            pthread_mutex_lock(&srv->log_lock);
            fprintf(stderr, "%s\n", line);
            pthread_mutex_unlock(&srv->log_lock);
            free(line);
        }
        return;
    }
    pthread_mutex_lock(&srv->log_lock);
    if (vm_requests)
        fprintf(stderr,
                "%s %s %s function=%s status=%u latency=%.3fms exits=%llu pf_taken=%llu "
                "vm_requests=%llu\n",
                when, method, url, function, status, ms, exits, pf, vm_requests);
    else
        fprintf(stderr, "%s %s %s function=%s status=%u latency=%.3fms exits=%llu\n", when, method,
                url, function, status, ms, exits);
    pthread_mutex_unlock(&srv->log_lock);
}
