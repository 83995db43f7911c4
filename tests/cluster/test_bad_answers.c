/* Malformed answers from a fake etcd (a thread with a listening socket that answers
 * every request with the same bytes): each one is an error with a message, never a
 * crash, a hang or a leak. */
#include "helpers.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct {
    int fd, port;
    pthread_t thread;
    volatile int stop;
    const char *answer;
    bool endless; /* after the answer, 'x' until the client hangs up */
} fake;

/* Reads a request's head and its Content-Length body. */
static void read_request(int c)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof(buf) - 1) {
        ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0)
            return;
        have += (size_t)n;
    }
}

static void *serve(void *arg)
{
    (void)arg;
    while (!fake.stop) {
        struct pollfd p = {.fd = fake.fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int c = accept(fake.fd, NULL, NULL);
        if (c < 0)
            continue;
        read_request(c);
        send(c, fake.answer, strlen(fake.answer), MSG_NOSIGNAL);
        static char filler[65536];
        memset(filler, 'x', sizeof(filler));
        while (fake.endless && !fake.stop && send(c, filler, sizeof(filler), MSG_NOSIGNAL) > 0)
            ;
        close(c);
    }
    return NULL;
}

static void fake_start(void)
{
    fake.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fake.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fake.fd, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(fake.fd, (struct sockaddr *)&a, &len);
    fake.port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&fake.thread, NULL, serve, NULL), 0);
}

static void fake_stop(void)
{
    fake.stop = 1;
    pthread_join(fake.thread, NULL);
    close(fake.fd);
    etcd_close(e);
    e = NULL;
}

TestSuite(bad_answers, .init = fake_start, .fini = fake_stop, .timeout = 60);

/* A handle on the fake server that answers `body` with HTTP status `status`. */
static void answer(int status, const char *body)
{
    static char text[8192];
    snprintf(text, sizeof(text),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             status, strlen(body), body);
    fake.answer = text;
    etcd_close(e);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake.port);
    struct tidal_err err;
    e = etcd_open(url, 0.3, &err);
    cr_assert_not_null(e, "%s", err.msg);
}

static void assert_says(int rc, const struct tidal_err *err, const char *what)
{
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err->msg, "etcd http://127.0.0.1:"), "%s", err->msg);
    cr_assert(strstr(err->msg, what), "\"%s\" lacks \"%s\"", err->msg, what);
}

static int get(struct tidal_err *err)
{
    char *value = NULL;
    size_t len;
    int rc = etcd_get(e, "k", &value, &len, NULL, err);
    free(value);
    return rc;
}

#define HEADER "\"header\":{\"revision\":\"7\"}"

Test(bad_answers, not_json)
{
    struct tidal_err err;
    answer(200, "{\"header\": nope");
    assert_says(get(&err), &err, "bad answer: not a JSON object");
}

Test(bad_answers, a_value_that_is_not_base64)
{
    struct tidal_err err;
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":\"aw==\",\"value\":\"!!!!\"}]}");
    assert_says(get(&err), &err, "field \"value\": \"!!!!\" is not base64");
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":\"aw=\",\"value\":\"\"}]}");
    assert_says(get(&err), &err, "field \"key\": \"aw=\" is not base64");
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":\"awA=\"}]}");
    assert_says(get(&err), &err, "a key with a NUL byte");
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":5}]}");
    assert_says(get(&err), &err, "field \"key\": expected a base64 string");
}

Test(bad_answers, wrong_shapes)
{
    struct tidal_err err;
    answer(200, "{" HEADER ",\"kvs\":{}}");
    assert_says(get(&err), &err, "field \"kvs\": expected one key-value at most");
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":\"aw==\"},{\"key\":\"aw==\"}]}");
    assert_says(get(&err), &err, "expected one key-value at most");
    answer(200, "{" HEADER ",\"kvs\":[{\"key\":\"bA==\"}]}");
    assert_says(get(&err), &err, "asked for key \"k\", got \"l\"");
    answer(200, "{" HEADER ",\"kvs\":[7]}");
    assert_says(get(&err), &err, "a key-value is not a JSON object");
    answer(200, "[]");
    assert_says(get(&err), &err, "not a JSON object");
}

Test(bad_answers, missing_or_bad_numbers)
{
    struct tidal_err err;
    answer(200, "{}");
    assert_says(etcd_put(e, "k", "v", 1, 0, NULL, &err), &err, "field \"header\": missing");
    answer(200, "{\"header\":{\"revision\":\"12abc\"}}");
    assert_says(etcd_put(e, "k", "v", 1, 0, NULL, &err), &err,
                "field \"revision\": expected a 64-bit integer");
    answer(200, "{\"header\":{\"revision\":\"99999999999999999999\"}}");
    assert_says(etcd_put(e, "k", "v", 1, 0, NULL, &err), &err, "expected a 64-bit integer");
    answer(200, "{\"header\":{}}");
    assert_says(etcd_put(e, "k", "v", 1, 0, NULL, &err), &err, "expected a revision > 0");
    int64_t id;
    answer(200, "{" HEADER ",\"ID\":1e300}");
    assert_says(etcd_lease_grant(e, 5, &id, &err), &err, "is not a whole number");
    answer(200, "{" HEADER ",\"ID\":\"-3\"}");
    assert_says(etcd_lease_grant(e, 5, &id, &err), &err, "expected a lease ID > 0");
    bool ok;
    answer(200, "{" HEADER ",\"succeeded\":\"yes\"}");
    assert_says(etcd_txn(e, NULL, 0, NULL, 0, NULL, 0, &ok, NULL, &err), &err,
                "field \"succeeded\": expected true or false");
    int64_t ttl;
    answer(200, "{" HEADER "}");
    assert_says(etcd_lease_keepalive_once(e, 1, &ttl, &err), &err, "field \"result\": missing");
}

Test(bad_answers, error_answers)
{
    struct tidal_err err;
    answer(400, "{\"error\":\"boom\",\"message\":\"boom\",\"code\":3}");
    assert_says(get(&err), &err, "boom (HTTP 400, gRPC status 3)");
    answer(502, "<html>Bad Gateway</html>");
    assert_says(get(&err), &err, "HTTP 502: <html>Bad Gateway</html>");
    answer(200, "{\"error\":{\"grpc_code\":9,\"message\":\"stream broke\"}}");
    assert_says(get(&err), &err, "stream broke (HTTP 200, gRPC status 9)");
    /* "Unavailable" is retried until the timeout, then reported. */
    answer(503, "{\"error\":\"etcdserver: no leader\",\"code\":14}");
    assert_says(get(&err), &err, "etcdserver: no leader (HTTP 503, gRPC status 14)");
    cr_assert_gt(etcd_requests(e), 1);
}

Test(bad_answers, truncated_and_oversized)
{
    struct tidal_err err;
    static const char truncated[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\":";
    answer(200, "");
    fake.answer = truncated;
    assert_says(get(&err), &err, "transfer closed with 90 bytes remaining");
    static const char huge[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n";
    fake.answer = huge;
    fake.endless = true;
    assert_says(get(&err), &err, "bad answer: longer than 67108864 bytes");
    fake.endless = false;
}

static int ignore(const struct etcd_event *ev, void *arg, struct tidal_err *err)
{
    (void)ev, (void)arg, (void)err;
    return 0;
}

Test(bad_answers, a_broken_watch_stream)
{
    static const char *const streams[][2] = {
        {"not json\n", "a streamed message is not a JSON object"},
        {"{\"result\":5}\n", "field \"result\": expected a JSON object"},
        {"{\"result\":{\"events\":[{\"type\":\"MOVE\",\"kv\":{\"key\":\"aw==\"}}]}}\n",
         "field \"type\": expected PUT or DELETE"},
        {"{\"result\":{\"events\":[{\"kv\":{\"key\":\"aw==\",\"mod_revision\":\"9\"}},"
         "{\"kv\":{\"key\":\"aw==\",\"mod_revision\":\"8\"}}]}}\n",
         "event at revision 8 after one at 9"},
        {"{\"result\":{\"events\":[{\"kv\":{\"key\":\"aw==\"}}]}}\n",
         "an event without a revision"},
        {"{\"result\":{\"events\":{}}}\n", "field \"events\": expected an array"},
        {"{\"result\":{\"canceled\":true,\"cancel_reason\":\"no\"}}\n",
         "the watch was canceled: no"},
        {"{\"error\":{\"grpc_code\":7,\"message\":\"denied\"}}\n",
         "denied (HTTP 200, gRPC status 7)"},
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        static char text[4096];
        snprintf(text, sizeof(text),
                 "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                 "{\"result\":{" HEADER ",\"created\":true}}\n%s",
                 streams[i][0]);
        answer(200, "");
        fake.answer = text;
        struct tidal_err err;
        int64_t next;
        int rc = etcd_watch(e, "k", 0, ignore, NULL, NULL, &next, &err);
        assert_says(rc, &err, streams[i][1]);
        cr_assert_eq(next, 8, "resume after the created answer's revision");
    }
}

Test(bad_answers, an_odd_leader)
{
    struct tidal_err err;
    struct etcd_leader l;
    answer(200, "{" HEADER ",\"leader\":{\"name\":\"ZWw=\",\"key\":\"ZWwvMQ==\",\"rev\":\"3\","
                "\"lease\":\"2\"}}");
    assert_says(etcd_campaign(e, "el", 1, "v", 1, NULL, &l, &err), &err,
                "with lease 2 at revision 3: expected election \"el\", lease 1");
    answer(200, "{" HEADER ",\"leader\":{\"name\":\"ZWw=\",\"key\":\"\",\"rev\":\"3\","
                "\"lease\":\"1\"}}");
    assert_says(etcd_campaign(e, "el", 1, "v", 1, NULL, &l, &err), &err,
                "field \"key\": expected 1 to 511 bytes, got 0");
    answer(200, "{" HEADER ",\"kv\":{\"key\":\"b3RoZXIvMQ==\",\"create_revision\":\"3\"}}");
    assert_says(etcd_leader(e, "el", &l, NULL, NULL, &err), &err,
                "leader key \"other/1\" is not under \"el/\"");
    answer(500, "{\"error\":\"election: no leader\",\"code\":2}");
    cr_assert_eq(etcd_leader(e, "el", &l, NULL, NULL, &err), ETCD_ABSENT);
}

Test(bad_answers, endpoints)
{
    struct tidal_err err;
    cr_assert_null(etcd_open("https://10.0.0.1:2379", 1, &err));
    cr_assert(strstr(err.msg, "expected http://HOST:PORT"), "%s", err.msg);
    cr_assert_null(etcd_open("", 1, &err));
    cr_assert_null(etcd_open("http://127.0.0.1:2379,,http://127.0.0.1:2380", 1, &err));
    cr_assert_null(etcd_open("http://127.0.0.1:2379", 0, &err));
    cr_assert(strstr(err.msg, "timeout 0 s"), "%s", err.msg);
}

/* A port with nothing listening: its requests go to the next endpoint. */
Test(bad_answers, an_endpoint_that_refuses_is_skipped)
{
    int closed = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(closed, (struct sockaddr *)&a, sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(closed, (struct sockaddr *)&a, &len);
    close(closed);
    answer(200, "{" HEADER "}");
    etcd_close(e);
    e = NULL;
    char urls[128], good[64];
    snprintf(good, sizeof(good), "http://127.0.0.1:%d", fake.port);
    snprintf(urls, sizeof(urls), "http://127.0.0.1:%d/, %s", ntohs(a.sin_port), good);
    struct tidal_err err;
    e = etcd_open(urls, 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    int64_t rev;
    cr_assert_eq(etcd_put(e, "k", "v", 1, 0, &rev, &err), 0, "%s", err.msg);
    cr_assert_eq(rev, 7);
    cr_assert_str_eq(etcd_endpoint(e), good);
    cr_assert_eq(etcd_requests(e), 2);
    cr_assert_eq(etcd_put(e, "k", "v", 1, 0, &rev, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_requests(e), 3, "the endpoint that answered is used first");
}
