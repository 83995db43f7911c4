/* Writes one JSON object on one line as it goes, for the `--stats` line of the
 * commands that start guests: they print JSON but read none, and a JSON library would
 * cost every start its loading (README.md, "How the binaries are linked"). */
#ifndef TIDAL_CLI_JSON_LINE_H
#define TIDAL_CLI_JSON_LINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_LINE_MAX_DEPTH 8

struct json_line {
    FILE *out;
    unsigned depth;                        /* objects open */
    bool has_members[JSON_LINE_MAX_DEPTH]; /* per open object: a comma before the next */
};

/* Opens the top-level object. */
void json_line_begin(struct json_line *j, FILE *out);
/* Opens an object member; json_line_end closes it. */
void json_line_object(struct json_line *j, const char *name);
/* Closes the innermost object; closing the top-level one ends the line. */
void json_line_end(struct json_line *j);

void json_line_uint(struct json_line *j, const char *name, uint64_t value);
void json_line_int(struct json_line *j, const char *name, int64_t value);
/* A finite number, to 15 significant digits. */
void json_line_number(struct json_line *j, const char *name, double value);
void json_line_bool(struct json_line *j, const char *name, bool value);
void json_line_string(struct json_line *j, const char *name, const char *value);

#endif
