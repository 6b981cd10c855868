/*
 * A C program that uses libradx as a C user would: it compiles model.c to bitcode with
 * clang-16, asks radx_differentiate() for three forward derivatives (chaining the
 * results, so one module holds them all), writes the module and a header naming the
 * generated functions, compiles check.c against it and runs it; then lowers the magic
 * calls of magic.c with radx_lower_module() and runs that; and checks the errors.
 *
 * usage: capi_test CLANG SRCDIR WORKDIR      (driven by tests/capi_c.rs)
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "radx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *clang, *srcdir, *workdir;
static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "capi_test.c:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    printf("$ %s\n", cmd);
    fflush(stdout);
    return system(cmd);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void print_error(const radx_error *e) {
    for (; e; e = e->next)
        printf("  [%s] %s\n", radx_status_name(e->code), e->text);
}

/* Differentiates `fn` in *module (replacing it with the result); returns the new name. */
static char *forward(unsigned char **module, size_t *len, const char *fn, const radx_activity *args, size_t nargs,
                     uint32_t width, bool primal) {
    radx_request req = {0};
    req.function = fn;
    req.mode = RADX_MODE_FORWARD;
    req.width = width;
    req.args = args;
    req.num_args = nargs;
    req.return_activity = RADX_ACTIVITY_DEFAULT;
    req.return_primal = primal;
    radx_result *res = NULL;
    radx_error *err = NULL;
    radx_status s = radx_differentiate(*module, *len, &req, &res, &err);
    if (s != RADX_OK) {
        printf("radx_differentiate(%s) failed: %s\n", fn, radx_status_name(s));
        print_error(err);
        radx_error_free(err);
        exit(1);
    }
    CHECK(err == NULL && res != NULL && res->function_name != NULL && res->report_json != NULL);
    printf("radx_differentiate(%s, width %u%s) -> %s, %zu bytes\n  report: %s\n", fn, width, primal ? ", primal" : "",
           res->function_name, res->bitcode_len, res->report_json);
    free(*module);
    *module = malloc(res->bitcode_len);
    memcpy(*module, res->bitcode, res->bitcode_len);
    *len = res->bitcode_len;
    char *name = strdup(res->function_name);
    radx_result_free(res);
    return name;
}

static void expect_error(const char *what, radx_status got, radx_status want, radx_result *res, radx_error *err) {
    printf("%s -> %s\n", what, radx_status_name(got));
    print_error(err);
    CHECK(got == want);
    CHECK(res == NULL);
    CHECK(err != NULL && err->code == want && err->message != NULL && err->text != NULL);
    radx_error_free(err);
}

static void errors(const unsigned char *module, size_t len) {
    radx_result *res = NULL;
    radx_error *err = NULL;
    radx_request req = {0};
    req.mode = RADX_MODE_FORWARD;

    req.function = "no_such_function";
    radx_status s = radx_differentiate(module, len, &req, &res, &err);
    if (err) CHECK(err->hint != NULL && strstr(err->hint, "`loglik`") != NULL);
    expect_error("unknown function", s, RADX_ERR_FUNCTION_NOT_FOUND, res, err);

    req.function = "f";
    req.mode = RADX_MODE_FORWARD_SPLIT;
    s = radx_differentiate(module, len, &req, &res, &err);
    expect_error("forward split mode", s, RADX_ERR_UNSUPPORTED_MODE, res, err);

    req.mode = RADX_MODE_FORWARD;
    static const unsigned char junk[] = "definitely not bitcode";
    s = radx_differentiate(junk, sizeof junk, &req, &res, &err);
    expect_error("bad bitcode", s, RADX_ERR_MALFORMED_INPUT, res, err);

    radx_activity one[1] = {RADX_ACTIVITY_DUP};
    req.args = one;
    req.num_args = 1;
    s = radx_differentiate(module, len, &req, &res, &err);
    expect_error("wrong activity count", s, RADX_ERR_INVALID_ARGUMENT, res, err);

    /* Without an error slot only the status comes back. */
    s = radx_lower_module(junk, sizeof junk, 0, &res, NULL);
    CHECK(s == RADX_ERR_MALFORMED_INPUT && res == NULL);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: capi_test CLANG SRCDIR WORKDIR\n");
        return 2;
    }
    clang = argv[1];
    srcdir = argv[2];
    workdir = argv[3];

    uint32_t major = 99, minor = 99, patch = 99;
    radx_version_numbers(&major, &minor, &patch);
    printf("libradx %s (%u.%u.%u)\n", radx_version(), major, minor, patch);
    CHECK(major == RADX_VERSION_MAJOR && minor == RADX_VERSION_MINOR && patch == RADX_VERSION_PATCH);
    char v[64];
    snprintf(v, sizeof v, "%u.%u.%u", major, minor, patch);
    CHECK(strcmp(v, radx_version()) == 0);

    /* 1. A module from C source. */
    if (sh("'%s' -O2 -c -emit-llvm '%s/model.c' -o '%s/model.bc'", clang, srcdir, workdir) != 0) return 2;
    char path[1024];
    snprintf(path, sizeof path, "%s/model.bc", workdir);
    size_t len = 0;
    unsigned char *module = read_file(path, &len);
    CHECK(module != NULL && len > 0);

    /* 2. Three derivatives, each request on the module the previous one returned. */
    char *df = forward(&module, &len, "f", NULL, 0, 1, false);
    char *df_primal = forward(&module, &len, "f", NULL, 0, 1, true);
    radx_activity loglik_args[4] = {RADX_ACTIVITY_CONST, RADX_ACTIVITY_CONST, RADX_ACTIVITY_DUP, RADX_ACTIVITY_DUP};
    CHECK(strchr(df_primal, '.') == NULL && strcmp(df, df_primal) != 0); /* a C identifier */
    char *dloglik = forward(&module, &len, "loglik", loglik_args, 4, 2, false);
    radx_activity scale_args[3] = {RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST, RADX_ACTIVITY_DUP};
    char *dscale = forward(&module, &len, "scale", scale_args, 3, 1, false);

    snprintf(path, sizeof path, "%s/model.radx.bc", workdir);
    write_file(path, module, len);
    snprintf(path, sizeof path, "%s/names.h", workdir);
    FILE *h = fopen(path, "w");
    fprintf(h, "#define NAME_F \"%s\"\n#define NAME_F_PRIMAL \"%s\"\n#define NAME_LOGLIK \"%s\"\n#define NAME_SCALE \"%s\"\n",
            df, df_primal, dloglik, dscale);
    fclose(h);

    /* 3. Compile the differentiated bitcode with clang and run the checks against it. */
    int rc = sh("'%s' -O2 -include '%s/names.h' '%s/check.c' '%s/model.radx.bc' -lm -o '%s/check' && '%s/check'", clang,
                workdir, srcdir, workdir, workdir, workdir);
    CHECK(rc == 0);

    /* 4. Magic calls: radx_lower_module, then compile and run. */
    if (sh("'%s' -O2 -c -emit-llvm '%s/magic.c' -o '%s/magic.bc'", clang, srcdir, workdir) != 0) return 2;
    snprintf(path, sizeof path, "%s/magic.bc", workdir);
    size_t mlen = 0;
    unsigned char *magic = read_file(path, &mlen);
    radx_result *res = NULL;
    radx_error *err = NULL;
    radx_status s = radx_lower_module(magic, mlen, 0, &res, &err);
    printf("radx_lower_module(magic.bc) -> %s\n", radx_status_name(s));
    print_error(err);
    CHECK(s == RADX_OK && res != NULL && res->calls_lowered == 2 && res->function_name == NULL);
    if (res) {
        printf("  report: %s\n", res->report_json);
        snprintf(path, sizeof path, "%s/magic.radx.bc", workdir);
        write_file(path, res->bitcode, res->bitcode_len);
        rc = sh("'%s' -O2 '%s/magic.radx.bc' -lm -o '%s/magic' && '%s/magic'", clang, workdir, workdir, workdir);
        CHECK(rc == 0);
    }
    radx_result_free(res);
    radx_error_free(err);
    free(magic);

    /* 5. Errors. */
    errors(module, len);

    free(module);
    free(df);
    free(df_primal);
    free(dloglik);
    free(dscale);
    printf("%s\n", failures ? "capi_test: FAILED" : "capi_test: all checks passed");
    return failures != 0;
}
