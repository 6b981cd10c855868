/*
 * radx.h: the C ABI of RadX (libradx), automatic differentiation of LLVM IR.
 *
 * Every entry point takes LLVM bitcode (or textual IR) in a caller-owned buffer and hands
 * back new bitcode in a result the caller frees with radx_result_free(). Failures are
 * reported as a status code and, when the caller asks for it, a radx_error (a chain of
 * diagnostics naming the function, the source line and the offending instruction) that
 * the caller frees with radx_error_free().
 *
 * Guarantees:
 *   - No Rust panic crosses this boundary: an internal failure becomes RADX_ERR_INTERNAL.
 *   - Every call works in an LLVM context of its own, so calls may run concurrently from
 *     several threads. The library keeps no state between calls.
 *   - Enumerations are passed as fixed-width integers (the typedefs below); values outside
 *     the listed ones are rejected with RADX_ERR_INVALID_ARGUMENT.
 *
 * The header is checked against the Rust side by rust/radx-capi/tests/header.rs (names,
 * parameter types, constants and struct layouts).
 *
 * See docs/c-api.md for a guide with examples.
 */
#ifndef RADX_H
#define RADX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the headers; radx_version() and radx_version_numbers() give the library's. */
#define RADX_VERSION_MAJOR 0
#define RADX_VERSION_MINOR 1
#define RADX_VERSION_PATCH 0

/* ---- status codes ------------------------------------------------------------------- */

typedef int32_t radx_status;
enum radx_status_values {
    RADX_OK = 0,
    /* The buffer is not LLVM bitcode or IR, or the module fails verification. */
    RADX_ERR_MALFORMED_INPUT = 1,
    /* The request is wrong for this function: wrong markers or counts, a declaration. */
    RADX_ERR_BAD_REQUEST = 2,
    /* An instruction or a call has no derivative rule. */
    RADX_ERR_NO_RULE = 3,
    /* Activity that cannot be made consistent. */
    RADX_ERR_ACTIVITY = 4,
    /* A construct RadX does not differentiate. */
    RADX_ERR_UNSUPPORTED = 5,
    /* A bug in RadX: a panic, or a module that fails verification after differentiation. */
    RADX_ERR_INTERNAL = 6,
    /* A null pointer, an out-of-range enumeration value, a wrong argument count. */
    RADX_ERR_INVALID_ARGUMENT = 7,
    /* The module has no function of the requested name. */
    RADX_ERR_FUNCTION_NOT_FOUND = 8,
    /* The mode is defined but not implemented yet (the reverse modes, for now). */
    RADX_ERR_UNSUPPORTED_MODE = 9
};

/* ---- requests ----------------------------------------------------------------------- */

/* Derivative modes. The values are those of Enzyme's CDerivativeMode. */
typedef int32_t radx_mode;
enum radx_mode_values {
    RADX_MODE_FORWARD = 0,          /* tangents (__enzyme_fwddiff) */
    RADX_MODE_REVERSE_PRIMAL = 1,   /* augmented forward pass of split reverse mode (not yet) */
    RADX_MODE_REVERSE_GRADIENT = 2, /* reverse pass of split reverse mode (not yet) */
    RADX_MODE_REVERSE_COMBINED = 3, /* both passes in one function (__enzyme_autodiff; not yet) */
    RADX_MODE_FORWARD_SPLIT = 4     /* forward mode reusing a tape (not yet) */
};

/* Activity of one parameter or of the return value. */
typedef int32_t radx_activity;
enum radx_activity_values {
    /* By type, as the __enzyme_* calls do: floating-point values and pointers carry a
       derivative (RADX_ACTIVITY_DUP in forward mode), integers are constant. For the
       return value: a tangent is returned when the type can carry one. */
    RADX_ACTIVITY_DEFAULT = 0,
    RADX_ACTIVITY_CONST = 1,      /* no derivative; the parameter is passed alone */
    RADX_ACTIVITY_DUP = 2,        /* followed by `width` shadows (tangents or shadow pointers) */
    RADX_ACTIVITY_DUP_NONEED = 3, /* as DUP; the primal result is not needed */
    RADX_ACTIVITY_ACTIVE = 4      /* reverse mode: an active scalar (enzyme_out) */
};

/* Flags of radx_request.flags and radx_lower_module(). */
enum radx_flag_values {
    RADX_FLAG_NO_PREOPT = 1,  /* do not canonicalise functions before differentiating them */
    RADX_FLAG_NO_POSTOPT = 2  /* do not clean up the generated functions */
};

typedef struct radx_request {
    /* The name of the function to differentiate, as it appears in the module. */
    const char *function;
    radx_mode mode;
    /* Batch width: the number of tangent directions (enzyme_width); 0 means 1. At most 64. */
    uint32_t width;
    /* One activity per parameter of `function`, or NULL (with num_args 0) for the defaults. */
    const radx_activity *args;
    size_t num_args;
    /* Forward mode: RADX_ACTIVITY_CONST returns no tangent; DEFAULT, DUP and DUP_NONEED
       return `width` tangents when the return type can carry one. */
    radx_activity return_activity;
    /* Also return the primal result (enzyme_primal_return). */
    bool return_primal;
    /* RADX_FLAG_* bits. */
    uint32_t flags;
} radx_request;

/* ---- results and errors ------------------------------------------------------------- */

typedef struct radx_result {
    /* The whole module with the derivative added, as bitcode. */
    uint8_t *bitcode;
    size_t bitcode_len;
    /* radx_differentiate: the name of the generated function, a valid C identifier
       (fwddiffe<fn>, fwddiffe<width><fn>, with a _N suffix when the module already has
       one of that name), with external linkage. Its parameters are those of the original,
       each DUP one followed by `width` shadows of its type; it returns {primal?, tangent x
       width}: a bare value when that is a single value, an LLVM literal struct of them
       when several, void when none. On x86-64 a struct of two doubles is returned as C
       returns `struct {double a, b;}`; a struct of three or more scalars is returned in
       registers too, which a C prototype cannot express (call it from IR, or ask for
       fewer values).
       radx_lower_module: NULL. */
    char *function_name;
    /* radx_lower_module: how many __enzyme_* calls were replaced; radx_differentiate: 0. */
    size_t calls_lowered;
    /* What was generated, as JSON: {"calls_lowered": N, "generated": [{"name", "source",
       "mode", "width", "instructions"}, ...]}. */
    char *report_json;
} radx_result;

typedef struct radx_error {
    radx_status code;
    /* Source position of the offending construct; 0 when unknown (no -g). */
    uint32_t line;
    uint32_t column;
    /* What went wrong, in one sentence. Never NULL. */
    char *message;
    /* The function being differentiated, or the one containing the magic call; may be NULL. */
    char *function;
    /* The source file of `line`; may be NULL. */
    char *file;
    /* The offending instruction as LLVM prints it; may be NULL. */
    char *construct;
    /* What to do about it; may be NULL. */
    char *hint;
    /* The whole diagnostic as `radx` prints it, without the leading "radx: " (several
       lines). Never NULL. */
    char *text;
    /* The next diagnostic (radx_lower_module reports every failing call), or NULL. */
    struct radx_error *next;
} radx_error;

/* ---- entry points ------------------------------------------------------------------- */

/* The library's version, e.g. "0.1.0"; a static string, not to be freed. */
const char *radx_version(void);

/* The library's version as numbers; any pointer may be NULL. */
void radx_version_numbers(uint32_t *major, uint32_t *minor, uint32_t *patch);

/* A static name for a status code ("RADX_OK", "RADX_ERR_BAD_REQUEST", ...; "unknown"). */
const char *radx_status_name(radx_status status);

/*
 * Rewrites every __enzyme_* magic call of the module in `bitcode` (Enzyme's C calling
 * convention, as `radx opt` does) and returns the new module. `flags`: RADX_FLAG_* bits.
 * On success returns RADX_OK and sets *result (which must be non-NULL); on failure
 * returns the code of the first diagnostic, sets *result to NULL and, when `error` is
 * non-NULL, *error to the chain of diagnostics.
 */
radx_status radx_lower_module(const uint8_t *bitcode, size_t bitcode_len, uint32_t flags,
                              radx_result **result, radx_error **error);

/*
 * Generates the derivative of one function of the module in `bitcode` as described by
 * `request`, verifies the module and returns it with the generated function's name.
 * Results and errors are handed back as for radx_lower_module. Only RADX_MODE_FORWARD is
 * implemented; the other modes return RADX_ERR_UNSUPPORTED_MODE.
 */
radx_status radx_differentiate(const uint8_t *bitcode, size_t bitcode_len,
                               const radx_request *request, radx_result **result,
                               radx_error **error);

/* Frees a result and everything it points to. NULL is allowed. */
void radx_result_free(radx_result *result);

/* Frees an error chain and everything it points to. NULL is allowed. */
void radx_error_free(radx_error *error);

#ifdef __cplusplus
}
#endif

#endif /* RADX_H */
