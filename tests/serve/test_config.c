/* tidal serve refuses bad configuration with a message naming what is wrong,
 * before it boots anything. */
#include "server.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *config_with(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/tidal-serve-bad-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_refused(const char *const *args, int code, const char *message)
{
    char err[8192];
    int status = run_tidal_captured(args, NULL, err, sizeof(err));
    cr_expect_eq(status, code, "exit %d, expected %d: %s", status, code, err);
    cr_expect(strstr(err, message), "message lacks '%s': %s", message, err);
}

static void expect_config_refused(const char *text, const char *message)
{
    const char *path = config_with(text);
    const char *args[] = {"serve", "--config", path, NULL};
    expect_refused(args, 65, message);
    expect_refused(args, 65, path);
}

Test(serve_config, bad_json)
{
    expect_config_refused("{\"functions\": {\n \"a\": {", "line 2");
}

Test(serve_config, unknown_field)
{
    expect_config_refused("{\"functions\": {\"echo\": {\"image\": \"x\", \"colour\": 1}}}",
                          "unknown field \"functions.echo.colour\"");
}

Test(serve_config, unknown_top_level_field)
{
    expect_config_refused("{\"functions\": {}, \"extra\": true}", "unknown field \"extra\"");
}

Test(serve_config, missing_image)
{
    expect_config_refused("{\"functions\": {\"echo\": {\"memory\": \"16M\"}}}",
                          "missing field \"functions.echo.image\"");
}

Test(serve_config, bad_values)
{
    expect_config_refused("{\"functions\": {\"e\": {\"image\": \"x\", \"timeout\": -1}}}",
                          "field \"functions.e.timeout\": expected a number");
    expect_config_refused("{\"functions\": {\"e\": {\"image\": \"x\", \"memory\": \"lots\"}}}",
                          "field \"functions.e.memory\"");
    expect_config_refused(
        "{\"functions\": {\"e\": {\"image\": \"x\", \"max_concurrency\": 0}}}",
        "field \"functions.e.max_concurrency\": expected a whole number in 1..4096");
    expect_config_refused("{\"functions\": {\"bad name\": {\"image\": \"x\"}}}",
                          "function name 'bad name'");
}

Test(serve_config, missing_file)
{
    const char *args[] = {"serve", "--config", "/nonexistent/functions.json", NULL};
    expect_refused(args, 65, "/nonexistent/functions.json: No such file");
}

Test(serve_config, command_line)
{
    const char *none[] = {"serve", NULL};
    expect_refused(none, 64, "no functions");
    const char *no_eq[] = {"serve", "--function", "echo", NULL};
    expect_refused(no_eq, 64, "expected NAME=IMAGE");
    const char *twice[] = {"serve", "--function", "a=x", "--function", "a=y", NULL};
    expect_refused(twice, 64, "function 'a' is defined twice");
    const char *listen[] = {"serve", "--listen", "127.0.0.1", "--function", "a=x", NULL};
    expect_refused(listen, 64, "expected HOST:PORT");
    const char *port[] = {"serve", "--listen", "127.0.0.1:99999", "--function", "a=x", NULL};
    expect_refused(port, 64, "not a number in 0..65535");
    const char *backend[] = {"serve", "--backend", "lambda", "--function", "a=x", NULL};
    expect_refused(backend, 64, "expected vm or process");
}

Test(serve_config, missing_image_file)
{
    const char *args[] = {"serve", "--backend", "process", "--function", "a=/nonexistent/fn", NULL};
    expect_refused(args, 65, "/nonexistent/fn");
}
