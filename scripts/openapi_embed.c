/* Build step for api/openapi.json (OpenAPI 3.1): parse it, check that every
 * "$ref" is a local JSON pointer (RFC 6901) that resolves and that every
 * shared component is used, then write a C file holding the compact document
 * as bytes, which the server answers with as is (never parsed per request).
 * Usage: openapi_embed IN.json OUT.c; exit 1 with one line per fault. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *in_path;
static int faults;

static void fault(const char *where, const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s: %s%s%s\n", in_path, where, what, detail ? ": " : "", detail ? detail : "");
    faults++;
}

/* The value at a local pointer "#/a/b~1c" or NULL (RFC 6901 section 4). */
static json_t *resolve(json_t *root, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    json_t *v = root;
    const char *s = ref + 2;
    char tok[256];
    for (;;) {
        size_t n = 0;
        while (*s && *s != '/') {
            char c = *s++;
            if (c == '~') {
                if (*s == '0')
                    c = '~';
                else if (*s == '1')
                    c = '/';
                else
                    return NULL;
                s++;
            }
            if (n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            size_t i = 0;
            if (n == 0 || n > 9 || (n > 1 && tok[0] == '0'))
                return NULL;
            for (size_t j = 0; j < n; j++) {
                if (tok[j] < '0' || tok[j] > '9')
                    return NULL;
                i = i * 10 + (size_t)(tok[j] - '0');
            }
            v = json_array_get(v, i);
        } else {
            return NULL;
        }
        if (!v)
            return NULL;
        if (!*s)
            return v;
        s++;
    }
}

/* Every "$ref" below v; used collects the targets seen. */
static void walk(json_t *root, json_t *v, const char *where, json_t *used)
{
    char sub[512];
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            snprintf(sub, sizeof sub, "%s/%s", where, k);
            if (strcmp(k, "$ref") == 0) {
                const char *ref = json_string_value(x);
                if (!ref)
                    fault(sub, "$ref is not a string", NULL);
                else if (!resolve(root, ref))
                    fault(sub, "$ref does not resolve", ref);
                else
                    json_object_set_new(used, ref, json_true());
            } else {
                walk(root, x, sub, used);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            snprintf(sub, sizeof sub, "%s/%zu", where, i);
            walk(root, x, sub, used);
        }
    }
}

/* Shared schemas and responses that nothing refers to are stale. */
static void check_used(json_t *root, const char *kind, json_t *used)
{
    json_t *m = json_object_get(json_object_get(root, "components"), kind);
    const char *k;
    json_t *x;
    char ref[512];
    json_object_foreach(m, k, x) {
        snprintf(ref, sizeof ref, "#/components/%s/%s", kind, k);
        if (!json_object_get(used, ref))
            fault(ref, "defined but never referred to", NULL);
    }
}

/* Each operation answers with documented responses and has a unique id. */
static void check_paths(json_t *root)
{
    json_t *paths = json_object_get(root, "paths"), *ids = json_object();
    if (!json_is_object(paths) || json_object_size(paths) == 0)
        fault("/paths", "missing or empty", NULL);
    const char *p, *m;
    json_t *item, *op;
    json_object_foreach(paths, p, item) {
        if (p[0] != '/')
            fault(p, "path does not start with /", NULL);
        json_object_foreach(item, m, op) {
            char where[512];
            snprintf(where, sizeof where, "/paths/%s/%s", p, m);
            const char *id = json_string_value(json_object_get(op, "operationId"));
            if (!id)
                fault(where, "no operationId", NULL);
            else if (json_object_get(ids, id))
                fault(where, "operationId used twice", id);
            else
                json_object_set_new(ids, id, json_true());
            json_t *r = json_object_get(op, "responses");
            if (!json_is_object(r) || !json_object_get(r, "200"))
                fault(where, "no 200 response", NULL);
        }
    }
    json_decref(ids);
}

static int write_c(const char *out_path, const char *txt, size_t len)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", out_path, strerror(errno));
        return 1;
    }
    fprintf(f, "/* Generated from api/openapi.json by scripts/openapi_embed.c: do not edit. */\n"
               "#include <stddef.h>\n\n"
               "const size_t openapi_json_len = %zu;\n"
               "const unsigned char openapi_json[] = {",
            len);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%s0x%02x,", i % 16 ? " " : "\n    ", (unsigned char)txt[i]);
    fprintf(f, "\n    0x00\n};\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "%s: %s\n", out_path, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: openapi_embed IN.json OUT.c\n");
        return 2;
    }
    in_path = argv[1];
    json_error_t e;
    json_t *root = json_load_file(in_path, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        fprintf(stderr, "%s:%d:%d: %s\n", in_path, e.line, e.column, e.text);
        return 1;
    }
    const char *ver = json_string_value(json_object_get(root, "openapi"));
    if (!ver || strncmp(ver, "3.", 2) != 0)
        fault("/openapi", "not an OpenAPI 3 document", NULL);
    json_t *used = json_object();
    walk(root, root, "", used);
    check_used(root, "schemas", used);
    check_used(root, "responses", used);
    check_paths(root);
    json_decref(used);
    int rc = 1;
    if (faults == 0) {
        /* the same flags the server uses for every other JSON answer */
        char *txt = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12));
        if (txt)
            rc = write_c(argv[2], txt, strlen(txt));
        free(txt);
    } else {
        fprintf(stderr, "%s: %d fault(s)\n", in_path, faults);
    }
    json_decref(root);
    return rc;
}
