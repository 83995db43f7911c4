#include "json_line.h"

#include <inttypes.h>

/* Control characters, quotes and backslashes escaped; other bytes pass as they are
 * (the strings written are names and reports in UTF-8). */
static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The separator and the name before a member of the innermost object. */
static void put_name(struct json_line *j, const char *name)
{
    if (j->has_members[j->depth - 1])
        fputc(',', j->out);
    j->has_members[j->depth - 1] = true;
    put_string(j->out, name);
    fputc(':', j->out);
}

static void open_object(struct json_line *j)
{
    fputc('{', j->out);
    j->has_members[j->depth++] = false;
}

void json_line_begin(struct json_line *j, FILE *out)
{
    j->out = out;
    j->depth = 0;
    open_object(j);
}

void json_line_object(struct json_line *j, const char *name)
{
    put_name(j, name);
    open_object(j);
}

void json_line_end(struct json_line *j)
{
    fputc('}', j->out);
    if (--j->depth == 0)
        fputc('\n', j->out);
}

void json_line_uint(struct json_line *j, const char *name, uint64_t value)
{
    put_name(j, name);
    fprintf(j->out, "%" PRIu64, value);
}

void json_line_int(struct json_line *j, const char *name, int64_t value)
{
    put_name(j, name);
    fprintf(j->out, "%" PRId64, value);
}

void json_line_number(struct json_line *j, const char *name, double value)
{
    put_name(j, name);
    fprintf(j->out, "%.15g", value);
}

void json_line_bool(struct json_line *j, const char *name, bool value)
{
    put_name(j, name);
    fputs(value ? "true" : "false", j->out);
}

void json_line_string(struct json_line *j, const char *name, const char *value)
{
    put_name(j, name);
    put_string(j->out, value);
}
