/*
 * A C program that uses ABI 2 of libradx as an in-process caller would: it parses
 * model.c's bitcode with its own LLVM-C (the libLLVM libradx links), adds reverse-mode
 * derivatives to that module in place with radx_differentiate_module() (combined, and
 * split with the tape), reads the reported signatures, adds one more derivative through
 * the bitcode door with a rule registry, writes the module, and runs check_rev.c against
 * it. Then the refusals: another LLVM, custom rules that would be needed, bad rules.
 *
 * usage: capi_rev_test CLANG SRCDIR WORKDIR      (driven by tests/capi_c.rs)
 */
#define _POSIX_C_SOURCE 200809L
#include "radx.h"

#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm/Config/llvm-config.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *clang, *srcdir, *workdir;
static int failures = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "capi_rev_test.c:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                                  \
        }                                                                                \
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

static void print_error(const radx_error *e) {
    for (; e; e = e->next) printf("  [%s] %s\n", radx_status_name(e->code), e->text);
}

static const char *role(radx_slot_role r) {
    static const char *names[] = {"primal", "shadow", "seed", "tape", "return", "return_shadow", "adjoint"};
    return r >= 0 && r <= RADX_SLOT_ADJOINT ? names[r] : "?";
}

/* "primal(0):double, seed:double -> adjoint(0):double" */
static void brief(const radx_function *f, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (int side = 0; side < 2; side++) {
        const radx_slot *s = side ? f->results : f->params;
        size_t m = side ? f->num_results : f->num_params;
        for (size_t i = 0; i < m; i++) {
            char at[32] = "";
            if (s[i].arg != UINT32_MAX) snprintf(at, sizeof at, "(%u)", s[i].arg);
            k += (size_t)snprintf(out + k, n - k, "%s%s%s:%s", i ? ", " : "", role(s[i].role), at, s[i].llvm_type);
        }
        if (!side) k += (size_t)snprintf(out + k, n - k, " -> ");
    }
}

static radx_result *in_process(LLVMModuleRef m, radx_llvm_get_version_fn v, const radx_request *req, const radx_rules *rules,
                               radx_status want) {
    radx_result *res = NULL;
    radx_error *err = NULL;
    radx_status s = radx_differentiate_module(m, v, req, rules, &res, &err);
    printf("radx_differentiate_module(%s, mode %d) -> %s\n", req->function, req->mode, radx_status_name(s));
    print_error(err);
    CHECK(s == want);
    CHECK((s == RADX_OK) == (res != NULL) && (s == RADX_OK) == (err == NULL));
    radx_error_free(err);
    if (res) {
        CHECK(res->bitcode == NULL && res->bitcode_len == 0);
        for (size_t i = 0; i < res->num_functions; i++) {
            char b[1024];
            brief(&res->functions[i], b, sizeof b);
            printf("  %s: %s   [%s]\n", res->functions[i].name, b, res->functions[i].llvm_type);
        }
    }
    return res;
}

/* What proves to libradx that this program's libLLVM is its own: LLVMGetVersion, which
   LLVM 15 lacks; there, LLVMContextCreate (compared, never called). */
#if LLVM_VERSION_MAJOR >= 16
#define OWN_LLVM LLVMGetVersion
#else
#define OWN_LLVM ((radx_llvm_get_version_fn)(void (*)(void))LLVMContextCreate)
#endif

/* No libLLVM's function. */
static void not_llvm(unsigned *a, unsigned *b, unsigned *c) {
    *a = 15;
    *b = 0;
    *c = 7;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: capi_rev_test CLANG SRCDIR WORKDIR\n");
        return 2;
    }
    clang = argv[1];
    srcdir = argv[2];
    workdir = argv[3];
    CHECK(radx_abi_version() == RADX_ABI_VERSION);
    unsigned a = LLVM_VERSION_MAJOR, b = LLVM_VERSION_MINOR, c = LLVM_VERSION_PATCH;
    uint32_t ra, rb, rc;
#if LLVM_VERSION_MAJOR >= 16
    LLVMGetVersion(&a, &b, &c);
#endif
    radx_llvm_version(&ra, &rb, &rc);
    printf("libradx ABI %u, LLVM %u.%u.%u; this program's LLVM %u.%u.%u\n", radx_abi_version(), ra, rb, rc, a, b, c);
    CHECK(a == ra && b == rb && c == rc);

    if (sh("'%s' -O2 -c -emit-llvm '%s/model.c' -o '%s/model.bc'", clang, srcdir, workdir) != 0) return 2;
    char path[1024];
    snprintf(path, sizeof path, "%s/model.bc", workdir);
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    LLVMModuleRef m = NULL;
    if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg) || LLVMParseBitcodeInContext2(ctx, buf, &m)) {
        fprintf(stderr, "cannot read %s: %s\n", path, msg ? msg : "");
        return 2;
    }
    LLVMDisposeMemoryBuffer(buf);

    /* 1. Combined mode of f, in place. */
    radx_request req = {0};
    req.function = "f";
    req.mode = RADX_MODE_REVERSE_COMBINED;
    radx_result *comb = in_process(m, OWN_LLVM, &req, NULL, RADX_OK);
    char sig[1024];
    if (comb) {
        CHECK(comb->num_functions == 1 && comb->tape_type == NULL);
        const radx_function *f = &comb->functions[0];
        brief(f, sig, sizeof sig);
        CHECK(strcmp(sig, "primal(0):double, primal(1):double, seed:double -> adjoint(0):double, adjoint(1):double") == 0);
        CHECK(f->mode == RADX_MODE_REVERSE_COMBINED && f->return_layout == RADX_RETURN_STRUCT);
        CHECK(strcmp(f->name, comb->function_name) == 0 && LLVMGetNamedFunction(m, f->name) != NULL);
    }

    /* 2. Split mode of scale(v DUP, n CONST, a ACTIVE), in place: tape reported. */
    radx_activity scale_args[3] = {RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST, RADX_ACTIVITY_ACTIVE};
    req.function = "scale";
    req.mode = RADX_MODE_REVERSE_PRIMAL;
    req.args = scale_args;
    req.num_args = 3;
    radx_result *split = in_process(m, OWN_LLVM, &req, NULL, RADX_OK);
    if (split) {
        CHECK(split->num_functions == 2 && split->tape_type && strcmp(split->tape_type, "opaque pointer") == 0);
        const radx_function *aug = &split->functions[0], *rev = &split->functions[1];
        CHECK(strcmp(split->function_name, aug->name) == 0);
        CHECK(aug->mode == RADX_MODE_REVERSE_PRIMAL && aug->return_layout == RADX_RETURN_VALUE);
        CHECK(aug->num_results == 1 && aug->results[0].role == RADX_SLOT_TAPE && strcmp(aug->results[0].llvm_type, "ptr") == 0);
        CHECK(rev->mode == RADX_MODE_REVERSE_GRADIENT && rev->num_params == 5 && rev->params[4].role == RADX_SLOT_TAPE);
        CHECK(rev->params[1].role == RADX_SLOT_SHADOW && rev->params[1].arg == 0 && rev->params[1].lane == 0);
        CHECK(rev->num_results == 1 && rev->results[0].role == RADX_SLOT_ADJOINT && rev->results[0].arg == 2);
    }

    /* 3. Refusals that leave the module untouched. */
    req.function = "f";
    req.mode = RADX_MODE_FORWARD;
    req.args = NULL;
    req.num_args = 0;
    in_process(m, not_llvm, &req, NULL, RADX_ERR_INVALID_ARGUMENT);
#if LLVM_VERSION_MAJOR >= 16
    /* What an LLVM 15 caller passes. */
    in_process(m, (radx_llvm_get_version_fn)(void (*)(void))LLVMContextCreate, &req, NULL, RADX_ERR_LLVM_MISMATCH);
#endif
    in_process(m, NULL, &req, NULL, RADX_ERR_INVALID_ARGUMENT);
    req.flags = RADX_FLAG_RUNTIME_ACTIVITY;
    in_process(m, OWN_LLVM, &req, NULL, RADX_ERR_UNSUPPORTED);
    req.flags = 0;

    /* 4. Custom rules: one that would be needed is refused, a malformed one is rejected. */
    radx_rules *rules = radx_rules_new();
    radx_rule rule = {0};
    rule.function = "f";
    rule.augmented = "f_aug";
    radx_error *err = NULL;
    CHECK(radx_rules_add(rules, &rule, &err) == RADX_ERR_BAD_REQUEST);
    print_error(err);
    radx_error_free(err);
    rule.augmented = NULL;
    rule.forward = "diffef"; /* exists in the module, wrong type for a forward rule */
    CHECK(radx_rules_add(rules, &rule, NULL) == RADX_OK && radx_rules_count(rules) == 1);
    in_process(m, OWN_LLVM, &req, rules, RADX_ERR_BAD_REQUEST);
    radx_rules_free(rules);

    /* 5. The bitcode door on the module so far, with a registry of rules that do not
          concern it: combined mode of loglik w.r.t. mu and s. */
    rules = radx_rules_new();
    rule.function = "not_in_this_module";
    rule.forward = "its_forward";
    CHECK(radx_rules_add(rules, &rule, NULL) == RADX_OK);
    LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(m);
    radx_activity loglik_args[4] = {RADX_ACTIVITY_CONST, RADX_ACTIVITY_CONST, RADX_ACTIVITY_ACTIVE, RADX_ACTIVITY_ACTIVE};
    req.function = "loglik";
    req.mode = RADX_MODE_REVERSE_COMBINED;
    req.args = loglik_args;
    req.num_args = 4;
    radx_result *ll = NULL;
    radx_status s = radx_differentiate_ex((const uint8_t *)LLVMGetBufferStart(bc), LLVMGetBufferSize(bc), &req, rules, &ll, &err);
    printf("radx_differentiate_ex(loglik) -> %s\n", radx_status_name(s));
    print_error(err);
    CHECK(s == RADX_OK && ll != NULL);
    radx_rules_free(rules);
    LLVMDisposeMemoryBuffer(bc);
    if (!ll || !comb || !split) return 1;
    brief(&ll->functions[0], sig, sizeof sig);
    printf("  %s: %s\n", ll->function_name, sig);
    CHECK(strcmp(sig, "primal(0):ptr, primal(1):i32, primal(2):double, primal(3):double, seed:double -> adjoint(2):double, adjoint(3):double") == 0);

    /* 6. Compile the final module with clang and check the numbers. */
    snprintf(path, sizeof path, "%s/model.rev.bc", workdir);
    FILE *out = fopen(path, "wb");
    CHECK(out && fwrite(ll->bitcode, 1, ll->bitcode_len, out) == ll->bitcode_len);
    fclose(out);
    snprintf(path, sizeof path, "%s/names_rev.h", workdir);
    FILE *h = fopen(path, "w");
    fprintf(h, "#define NAME_REV_F \"%s\"\n#define NAME_AUG_SCALE \"%s\"\n#define NAME_REV_SCALE \"%s\"\n#define NAME_REV_LOGLIK \"%s\"\n",
            comb->function_name, split->functions[0].name, split->functions[1].name, ll->function_name);
    fclose(h);
    int rc2 = sh("'%s' -O2 -include '%s/names_rev.h' '%s/check_rev.c' '%s/model.rev.bc' -lm -o '%s/check_rev' && '%s/check_rev'", clang,
                 workdir, srcdir, workdir, workdir, workdir);
    CHECK(rc2 == 0);

    radx_result_free(comb);
    radx_result_free(split);
    radx_result_free(ll);
    LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    printf("%s\n", failures ? "capi_rev_test: FAILED" : "capi_rev_test: all checks passed");
    return failures != 0;
}
