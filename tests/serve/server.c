#include "server.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *function_image(const char *name, bool vm)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "build/%s/%s.%s",
             strncmp(name, "fn_", 3) ? "examples" : "tests/guests", name, vm ? "elf" : "linux");
    return path_to(rel);
}

const char *server_log(const struct server *s)
{
    static char text[1 << 20];
    int fd = open(s->log_path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : 0;
    if (fd >= 0)
        close(fd);
    text[n > 0 ? n : 0] = 0;
    return text;
}

void server_start(struct server *s, const char *const *args)
{
    const char *argv[64] = {tidal_bin(), "serve", "--listen", "127.0.0.1:0"};
    unsigned n = 4;
    while (*args && n < 62)
        argv[n++] = *args++;
    argv[n] = NULL;
    strcpy(s->log_path, "/tmp/tidal-serve-test-XXXXXX");
    int log = mkstemp(s->log_path);
    cr_assert(log >= 0, "mkstemp failed");
    s->pid = fork();
    cr_assert(s->pid >= 0);
    if (s->pid == 0) {
        dup2(log, STDERR_FILENO);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(log);
    /* Registration boots every function: slow under emulation, so wait long. */
    for (int i = 0; i < 6000; i++) {
        const char *text = server_log(s);
        const char *at = strstr(text, "listening on http://127.0.0.1:");
        if (at) {
            s->port = (unsigned)atoi(at + strlen("listening on http://127.0.0.1:"));
            return;
        }
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            cr_assert_fail("tidal serve exited (status %d) before listening:\n%s",
                           WEXITSTATUS(status), text);
        usleep(20000);
    }
    kill(s->pid, SIGKILL);
    cr_assert_fail("tidal serve did not start listening within 120 s:\n%s", server_log(s));
}

int server_stop(struct server *s)
{
    kill(s->pid, SIGTERM);
    int status;
    waitpid(s->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * n, room = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, data, len < room ? len : room);
    r->len += len < room ? len : room;
    r->body[r->len] = 0;
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * n;
    if (len > 13 && !strncasecmp(data, "Retry-After: ", 13))
        snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)strcspn(data + 13, "\r\n"),
                 data + 13);
    if (len > 15 && !strncasecmp(data, "X-Tidal-Exits: ", 15))
        r->exits = strtol(data + 15, NULL, 10);
    if (len > 21 && !strncasecmp(data, "X-Tidal-Vm-Requests: ", 21))
        r->vm_requests = strtol(data + 21, NULL, 10);
    return len;
}

struct upload {
    const char *data;
    size_t left;
};

static size_t on_upload(char *buf, size_t size, size_t n, void *ctx)
{
    struct upload *u = ctx;
    size_t len = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->data, len);
    u->data += len;
    u->left -= len;
    return len;
}

static void perform(const struct server *s, const char *method, const char *path, const char *body,
                    size_t len, bool chunked, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    r->exits = r->vm_requests = -1;
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
    CURL *c = curl_easy_init();
    cr_assert(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    struct upload up = {body, len};
    struct curl_slist *headers = NULL;
    if (body && chunked) {
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        r->transport_error = true;
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
}

void http(const struct server *s, const char *method, const char *path, const char *body,
          size_t len, struct reply *r)
{
    perform(s, method, path, body, len, false, r);
}

void http_post_chunked(const struct server *s, const char *path, const char *body, struct reply *r)
{
    perform(s, "POST", path, body, strlen(body), true, r);
}
