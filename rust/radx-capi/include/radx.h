/*
 * radx.h: the C ABI of RadX (libradx), automatic differentiation of LLVM IR.
 *
 * Two doors lead in. The bitcode door (radx_differentiate, radx_differentiate_ex,
 * radx_lower_module) takes LLVM bitcode (or textual IR) in a caller-owned buffer and hands
 * back new bitcode in a result the caller frees with radx_result_free(). The in-process
 * door (radx_differentiate_module) adds the derivative to the caller's own LLVMModuleRef,
 * and is only open when the caller's libLLVM is the one libradx is linked against (same
 * version and same loaded copy; checked at run time, see below). Failures are
 * reported as a status code and, when the caller asks for it, a radx_error (a chain of
 * diagnostics naming the function, the source line and the offending instruction) that
 * the caller frees with radx_error_free().
 *
 * Guarantees:
 *   - No Rust panic crosses this boundary: an internal failure becomes RADX_ERR_INTERNAL.
 *   - Every bitcode call works in an LLVM context of its own, so calls may run concurrently
 *     from several threads. In-process calls use the module's context: calls on modules of
 *     distinct contexts may run concurrently; calls on one context must not overlap (LLVM's
 *     rule). The library keeps no state between calls but the registries callers make.
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
/* The ABI version; radx_abi_version() gives the library's. Check them for equality at load
   time. ABI 1 was forward mode only; ABI 2 appended fields to radx_result and added entry
   points, so an ABI 1 caller still works with an ABI 2 library. */
#define RADX_ABI_VERSION 2

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
    /* The mode is defined but not implemented yet (RADX_MODE_FORWARD_SPLIT). */
    RADX_ERR_UNSUPPORTED_MODE = 9,
    /* radx_differentiate_module: the caller's libLLVM is not the one libradx uses. */
    RADX_ERR_LLVM_MISMATCH = 10
};

/* ---- requests ----------------------------------------------------------------------- */

/* Derivative modes. The values are those of Enzyme's CDerivativeMode. REVERSE_PRIMAL and
   REVERSE_GRADIENT are the two halves of split mode: either one generates both functions
   (they share the tape layout), result->function_name names the one asked for, and
   result->functions lists both, augmented forward first. */
typedef int32_t radx_mode;
enum radx_mode_values {
    RADX_MODE_FORWARD = 0,          /* tangents (__enzyme_fwddiff) */
    RADX_MODE_REVERSE_PRIMAL = 1,   /* split mode: augmented forward pass, returns the tape */
    RADX_MODE_REVERSE_GRADIENT = 2, /* split mode: reverse pass, takes the tape */
    RADX_MODE_REVERSE_COMBINED = 3, /* both passes in one function (__enzyme_autodiff) */
    RADX_MODE_FORWARD_SPLIT = 4     /* forward mode reusing a tape (not yet) */
};

/* Activity of one parameter or of the return value.
   Forward mode: DEFAULT is DUP for floating-point values (and aggregates of them) and
   pointers, CONST otherwise; ACTIVE is refused. Return: DEFAULT and DUP give `width`
   tangents when the type can carry one, CONST none; DUP_NONEED with return_primal is
   refused (it says the primal is not needed).
   Reverse modes: DEFAULT is DUP for pointers (and aggregates holding one), ACTIVE for
   floating-point values, CONST otherwise. ACTIVE: the adjoint is returned (floating-point
   values only). DUP / DUP_NONEED: one shadow follows the parameter and adjoints
   accumulate into the memory it points to (pointers only). Return: DEFAULT is ACTIVE for
   floating-point results, CONST otherwise; ACTIVE takes a seed (the adjoint of the
   result); DUP on a returned pointer (split mode only) makes the augmented forward pass
   return its shadow. */
typedef int32_t radx_activity;
enum radx_activity_values {
    RADX_ACTIVITY_DEFAULT = 0,
    RADX_ACTIVITY_CONST = 1,      /* no derivative; the parameter is passed alone */
    RADX_ACTIVITY_DUP = 2,        /* followed by `width` shadows (tangents or shadow pointers) */
    RADX_ACTIVITY_DUP_NONEED = 3, /* as DUP; the primal result is not needed */
    RADX_ACTIVITY_ACTIVE = 4      /* reverse mode: an active scalar (enzyme_out) */
};

/* Flags of radx_request.flags and radx_lower_module(). */
enum radx_flag_values {
    RADX_FLAG_NO_PREOPT = 1,       /* do not canonicalise functions before differentiating them */
    RADX_FLAG_NO_POSTOPT = 2,      /* do not clean up the generated functions */
    /* Enzyme's runtime activity (shadows checked against primals at run time). Not
       supported yet: a request with it fails with RADX_ERR_UNSUPPORTED. */
    RADX_FLAG_RUNTIME_ACTIVITY = 4,
    /* Answer the request from the persistent derivative cache when an earlier run (of any
       process) made the same derivative, and store the result otherwise. The directory is
       RADX_CACHE_DIR, else ~/.cache/radx; RADX_CACHE=1 or 0 in the environment turns the
       cache on or off for every request, whatever the flag. */
    RADX_FLAG_CACHE = 8
};

typedef struct radx_request {
    /* The name of the function to differentiate, as it appears in the module. */
    const char *function;
    radx_mode mode;
    /* Batch width: the number of tangent directions (enzyme_width); 0 means 1. At most 64.
       Reverse modes take width 1 only (RADX_ERR_UNSUPPORTED otherwise). */
    uint32_t width;
    /* One activity per parameter of `function`, or NULL (with num_args 0) for the defaults. */
    const radx_activity *args;
    size_t num_args;
    /* See radx_activity. */
    radx_activity return_activity;
    /* Also return the primal result (enzyme_primal_return): forward and combined mode
       return it first; in split mode the augmented forward pass returns it after the tape. */
    bool return_primal;
    /* RADX_FLAG_* bits. */
    uint32_t flags;
} radx_request;

/* ---- signatures of generated functions ----------------------------------------------- */

/* What one parameter or one result of a generated function is. */
typedef int32_t radx_slot_role;
enum radx_slot_role_values {
    RADX_SLOT_PRIMAL = 0,        /* parameter: the original parameter `arg`, as is */
    RADX_SLOT_SHADOW = 1,        /* parameter: shadow `lane` of parameter `arg` (a tangent,
                                    or a shadow pointer) */
    RADX_SLOT_SEED = 2,          /* parameter: the adjoint of the return value */
    RADX_SLOT_TAPE = 3,          /* parameter or result: the tape, an opaque pointer */
    RADX_SLOT_RETURN = 4,        /* result: the original function's return value */
    RADX_SLOT_RETURN_SHADOW = 5, /* result: tangent (or shadow) `lane` of the return value */
    RADX_SLOT_ADJOINT = 6        /* result: the adjoint of the ACTIVE parameter `arg` */
};

/* How the results come back. */
typedef int32_t radx_return_layout;
enum radx_return_layout_values {
    RADX_RETURN_VOID = 0,   /* no results: the function returns void */
    RADX_RETURN_VALUE = 1,  /* one result, returned as a bare value */
    RADX_RETURN_STRUCT = 2  /* several, returned as an LLVM literal struct in slot order */
};

typedef struct radx_slot {
    radx_slot_role role;
    /* The index (from 0) of the original parameter it belongs to (PRIMAL, SHADOW,
       ADJOINT); UINT32_MAX for the others. */
    uint32_t arg;
    /* The batch lane of a SHADOW or RETURN_SHADOW (0 to width-1); 0 for the others. */
    uint32_t lane;
    /* The LLVM type as LLVM prints it: "double", "ptr", "ptr addrspace(10)", "{ double,
       double }", "[2 x double]". */
    char *llvm_type;
} radx_slot;

/* A generated function and its exact signature: call it with `params` in order and
   read the results as `return_layout` says. */
typedef struct radx_function {
    /* A valid C identifier with external linkage. */
    char *name;
    /* RADX_MODE_FORWARD, RADX_MODE_REVERSE_COMBINED, RADX_MODE_REVERSE_PRIMAL (the
       augmented forward pass) or RADX_MODE_REVERSE_GRADIENT (the reverse pass). */
    radx_mode mode;
    radx_return_layout return_layout;
    /* The whole function type as LLVM prints it, e.g. "{ ptr, double } (ptr, ptr)". */
    char *llvm_type;
    radx_slot *params;
    size_t num_params;
    radx_slot *results;
    size_t num_results;
} radx_function;

/* ---- custom rules ------------------------------------------------------------------- */

/* A registry of custom derivatives, filled with radx_rules_add() and passed with requests.
   It is internally locked: adding rules while other threads differentiate with it is
   safe. One registry may serve many modules; a rule whose function is not in a module is
   ignored for that module. */
typedef struct radx_rules radx_rules;

/* A custom derivative of `function`, for one activity pattern. The implementations live in
   the module being differentiated (defined or declared there) and have exactly the
   signature of the derivative RadX would generate for the same pattern:
     forward:   RADX_MODE_FORWARD with `width`, return_primal true (false when
                return_activity is DUP_NONEED):  (args, shadows) -> {primal, tangent x width}
     augmented: RADX_MODE_REVERSE_PRIMAL with return_primal true:
                (args, shadows) -> {tape, primal?, shadow?}
     reverse:   RADX_MODE_REVERSE_GRADIENT:  (args, shadows, seed?, tape) -> adjoints
   Give `forward`, or `augmented` and `reverse`, or all three; NULL for the missing ones.
   Each request checks the rules whose function the module holds (the implementations
   exist and have these types; RADX_ERR_BAD_REQUEST otherwise).
   The engine then uses a rule wherever it needs that derivative of that function with
   that activity pattern: for the request itself, and for calls inside the differentiated
   code (a function with only a declaration becomes differentiable). */
typedef struct radx_rule {
    const char *function;
    /* One activity per parameter, or NULL (num_args 0) for the defaults. */
    const radx_activity *args;
    size_t num_args;
    radx_activity return_activity;
    /* Batch width of the forward rule; 0 means 1. Rules with `reverse` have width 1. */
    uint32_t width;
    const char *forward;
    const char *augmented;
    const char *reverse;
} radx_rule;

/* ---- results and errors ------------------------------------------------------------- */

typedef struct radx_result {
    /* The whole module with the derivative added, as bitcode. NULL (length 0) from
       radx_differentiate_module, which changes the caller's module in place. */
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
       fewer values). Reverse modes: diffe<fn> (combined), augmented_<fn> (REVERSE_PRIMAL)
       or reverse_<fn> (REVERSE_GRADIENT), made unique the same way. `functions` gives the
       exact signatures.
       radx_lower_module: NULL. */
    char *function_name;
    /* radx_lower_module: how many __enzyme_* calls were replaced; radx_differentiate: 0. */
    size_t calls_lowered;
    /* What was generated, as JSON: {"calls_lowered": N, "generated": [{"name", "source",
       "mode", "width", "instructions", "tape"?}, ...], "functions": [...], "tape": ...};
       from radx_differentiate*, "functions" mirrors `functions` below ({"name", "mode",
       "type", "return_layout", "params": [{"role", "arg", "lane", "type"}], "results"})
       and "tape" is "opaque pointer" in split mode, null otherwise. */
    char *report_json;
    /* ABI 2: from radx_differentiate*: the functions the request asked for (one, or two
       in split mode: the augmented forward pass, then the reverse pass), with their
       signatures. NULL/0 from radx_lower_module. */
    radx_function *functions;
    size_t num_functions;
    /* ABI 2: split mode: "opaque pointer" (the augmented forward pass returns the tape as
       a `ptr` the reverse pass takes; the caller keeps it and passes it back unchanged,
       once). NULL otherwise. */
    char *tape_type;
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

/* The library's ABI version (RADX_ABI_VERSION of the header it was built with). */
uint32_t radx_abi_version(void);

/* The version of the libLLVM libradx is linked against (what LLVMGetVersion says there;
   on LLVM 15, which has no LLVMGetVersion, the version it was built with). Each build of
   libradx is for one LLVM major, and its file name says which (libradx-llvm16.so).
   Any pointer may be NULL. */
void radx_llvm_version(uint32_t *major, uint32_t *minor, uint32_t *patch);

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
 * `request`, verifies the module and returns it with the generated functions' names and
 * signatures. Results and errors are handed back as for radx_lower_module. Every mode but
 * RADX_MODE_FORWARD_SPLIT is implemented (that one returns RADX_ERR_UNSUPPORTED_MODE).
 */
radx_status radx_differentiate(const uint8_t *bitcode, size_t bitcode_len,
                               const radx_request *request, radx_result **result,
                               radx_error **error);

/* As radx_differentiate, with a registry of custom rules (NULL for none). */
radx_status radx_differentiate_ex(const uint8_t *bitcode, size_t bitcode_len,
                                  const radx_request *request, const radx_rules *rules,
                                  radx_result **result, radx_error **error);

/* llvm-c's module type: `struct LLVMOpaqueModule *` is LLVMModuleRef (llvm-c/Types.h). */
struct LLVMOpaqueModule;

/* The caller's LLVMGetVersion (llvm-c/Core.h, LLVM 16 and later); a caller on LLVM 15,
   which has none, passes its LLVMContextCreate cast to this type (never called). */
typedef void (*radx_llvm_get_version_fn)(unsigned *major, unsigned *minor, unsigned *patch);

/*
 * The in-process door: adds the derivative to `module` (an LLVMModuleRef) in place.
 * The rule: the module must come from the libLLVM libradx is linked against. The caller
 * passes its own LLVMGetVersion (LLVM 15: LLVMContextCreate) as `llvm_get_version`; it
 * must be the very function libradx links. Otherwise libradx refuses with
 * RADX_ERR_LLVM_MISMATCH before touching the module, naming the caller's LLVM version and
 * file and its own (another version, or two copies of one LLVM loaded side by side); it
 * only calls the function when the dynamic loader names it LLVMGetVersion. Use the
 * bitcode door (radx_differentiate_ex) then.
 * The module is verified first (RADX_ERR_MALFORMED_INPUT). On failure it is left as it
 * was: whatever the call added is removed. result->bitcode is NULL. The module and its
 * context must not be used by another thread during the call.
 */
radx_status radx_differentiate_module(struct LLVMOpaqueModule *module,
                                      radx_llvm_get_version_fn llvm_get_version,
                                      const radx_request *request, const radx_rules *rules,
                                      radx_result **result, radx_error **error);

/* A new, empty registry of custom rules (NULL only when out of memory). */
radx_rules *radx_rules_new(void);

/* Checks the shape of `rule` and registers a copy of it (the caller's strings may be freed
   afterwards). A rule for the same function and activity pattern replaces the earlier
   one. RADX_ERR_INVALID_ARGUMENT / RADX_ERR_BAD_REQUEST for a malformed rule. */
radx_status radx_rules_add(radx_rules *rules, const radx_rule *rule, radx_error **error);

/* The number of rules registered (0 for NULL). */
size_t radx_rules_count(const radx_rules *rules);

/* Frees a registry. NULL is allowed. Not while a request uses it. */
void radx_rules_free(radx_rules *rules);

/* `radx check` for C callers: builds the program made of `num_modules` buffers (bitcode or
   IR text, `lengths[i]` bytes each; compiled with -g for source lines) with every
   derivative request instrumented, runs it with the arguments `argv` (NULL-terminated;
   NULL for none) and checks each request the first time the program reaches it: against
   finite differences and, in reverse mode, by the dot-product test against forward mode
   (docs/check.md). Needs the clang of libradx's LLVM to link the program.
   On RADX_OK, *report_json is {"requests": [...], "notes": [...], "failed": bool} (free it
   with radx_string_free) and *failed is 1 when a check failed, else 0. A program that
   cannot be built or run is RADX_ERR_MALFORMED_INPUT or RADX_ERR_INTERNAL with the reason. */
radx_status radx_check_program(const uint8_t *const *modules, const size_t *lengths, size_t num_modules,
                               const char *const *argv, uint64_t seed, char **report_json, int *failed,
                               radx_error **error);

/* Frees a string libradx returned. NULL is allowed. */
void radx_string_free(char *s);

/* Frees a result and everything it points to. NULL is allowed. */
void radx_result_free(radx_result *result);

/* Frees an error chain and everything it points to. NULL is allowed. */
void radx_error_free(radx_error *error);

#ifdef __cplusplus
}
#endif

#endif /* RADX_H */
