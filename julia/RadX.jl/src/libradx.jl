# Bindings to libradx (rust/radx-capi/include/radx.h, ABI 2): loading and checking the
# library, the structs of the header, requests, results and errors.

const ABI_VERSION = UInt32(2)

# Status codes (radx_status).
const RADX_OK = Int32(0)
const RADX_ERR_UNSUPPORTED = Int32(5)
const RADX_ERR_NO_RULE = Int32(3)
const RADX_ERR_LLVM_MISMATCH = Int32(10)

# Modes (radx_mode), the values of Enzyme's CDerivativeMode.
const MODE_FORWARD = Int32(0)
const MODE_REVERSE_PRIMAL = Int32(1)
const MODE_REVERSE_GRADIENT = Int32(2)
const MODE_REVERSE_COMBINED = Int32(3)

# Flags.
const FLAG_NO_PREOPT = UInt32(1)
const FLAG_NO_POSTOPT = UInt32(2)
const FLAG_RUNTIME_ACTIVITY = UInt32(4)
const FLAG_CACHE = UInt32(8)

"""
    DISK_CACHE[]

Whether requests ask libradx's persistent derivative cache (`RADX_FLAG_CACHE`): on by
default, so a derivative made in one Julia session is read from disk in the next. The
directory is `ENV["RADX_CACHE_DIR"]`, else `~/.cache/radx`; `RADX_CACHE=0` in the
environment turns it off for every request. See [`set_disk_cache!`](@ref).
"""
const DISK_CACHE = Ref{Bool}(true)

"""
    set_disk_cache!(on::Bool)

Turns the persistent derivative cache on or off for this session's later compilations.
"""
set_disk_cache!(on::Bool) = (DISK_CACHE[] = on; nothing)

# Slot roles (radx_slot_role).
const SLOT_PRIMAL = Int32(0)
const SLOT_SHADOW = Int32(1)
const SLOT_SEED = Int32(2)
const SLOT_TAPE = Int32(3)
const SLOT_RETURN = Int32(4)
const SLOT_RETURN_SHADOW = Int32(5)
const SLOT_ADJOINT = Int32(6)
const NO_ARG = typemax(UInt32)

# The structs of radx.h, field by field (C layout).
struct CRequest
    func::Ptr{UInt8}
    mode::Int32
    width::UInt32
    args::Ptr{Int32}
    num_args::Csize_t
    return_activity::Int32
    return_primal::Bool
    flags::UInt32
end

struct CSlot
    role::Int32
    arg::UInt32
    lane::UInt32
    llvm_type::Ptr{UInt8}
end

struct CFunction
    name::Ptr{UInt8}
    mode::Int32
    return_layout::Int32
    llvm_type::Ptr{UInt8}
    params::Ptr{CSlot}
    num_params::Csize_t
    results::Ptr{CSlot}
    num_results::Csize_t
end

struct CResult
    bitcode::Ptr{UInt8}
    bitcode_len::Csize_t
    function_name::Ptr{UInt8}
    calls_lowered::Csize_t
    report_json::Ptr{UInt8}
    functions::Ptr{CFunction}
    num_functions::Csize_t
    tape_type::Ptr{UInt8}
end

struct CError
    code::Int32
    line::UInt32
    column::UInt32
    message::Ptr{UInt8}
    func::Ptr{UInt8}
    file::Ptr{UInt8}
    construct::Ptr{UInt8}
    hint::Ptr{UInt8}
    text::Ptr{UInt8}
    next::Ptr{CError}
end

struct CRule
    func::Ptr{UInt8}
    args::Ptr{Int32}
    num_args::Csize_t
    return_activity::Int32
    width::UInt32
    forward::Ptr{UInt8}
    augmented::Ptr{UInt8}
    reverse::Ptr{UInt8}
end

"""
    Slot(role, arg, lane, llvm_type)

One parameter or result of a generated function, as libradx reports it: its role
(`:primal`, `:shadow`, `:seed`, `:tape`, `:return`, `:return_shadow`, `:adjoint`), the
index (from 1) of the original LLVM parameter it belongs to (`0` for none), the batch lane
(from 1) and the LLVM type as LLVM prints it.
"""
struct Slot
    role::Symbol
    arg::Int
    lane::Int
    llvm_type::String
end

"""
    GeneratedFunction

A function libradx generated: its name, mode (`:forward`, `:combined`, `:augmented`,
`:reverse`), its LLVM type and its parameter and result [`Slot`](@ref)s.
"""
struct GeneratedFunction
    name::String
    mode::Symbol
    llvm_type::String
    params::Vector{Slot}
    results::Vector{Slot}
end

"""
    Diagnostic

One diagnostic of a failed libradx call: status name, message, function, source file and
line, offending instruction, hint, and the whole text.
"""
struct Diagnostic
    status::Int32
    status_name::String
    message::String
    func::Union{Nothing,String}
    file::Union{Nothing,String}
    line::Int
    construct::Union{Nothing,String}
    hint::Union{Nothing,String}
    text::String
end

"""
    RadXError <: Exception

A request libradx refused or could not complete; `status` is the first diagnostic's code,
`diagnostics` all of them (`RADX_ERR_NO_RULE` for a call without a derivative rule, ...).
"""
struct RadXError <: Exception
    status::Int32
    diagnostics::Vector{Diagnostic}
end

function Base.showerror(io::IO, e::RadXError)
    name = isempty(e.diagnostics) ? "status $(e.status)" : e.diagnostics[1].status_name
    print(io, "RadXError (", name, ")")
    for d in e.diagnostics
        print(io, "\n  ", replace(d.text, "\n" => "\n  "))
    end
end

# ---- loading ---------------------------------------------------------------------------

const LIB_HANDLE = Ref{Ptr{Cvoid}}(C_NULL)
const LIB_PATH = Ref{String}("")
const LIB_SYMS = Dict{Symbol,Ptr{Cvoid}}()
const LIB_LOCK = ReentrantLock()

"""
    libradx_path() -> String

Where libradx is loaded from: `ENV["RADX_LIB"]` when set, else `libradx-llvm<major>` for
the major of `Base.libllvm_version`, in the package's `deps/lib` or the checkout's
`target/lib` (see [`choose_library`](@ref)). When neither has it and the package sits in a
RadX checkout, it is built there first ([`build_libradx`](@ref)). Throws, naming the
supported Julia releases, when RadX.jl cannot work on this Julia.
"""
function libradx_path()
    choice = choose_library()
    choice.found === nothing || return choice.found
    isempty(get(ENV, "RADX_LIB", "")) || error("RadX: ENV[\"RADX_LIB\"] names $(only(choice.candidates)), which does not exist")
    radx_checkout() === nothing && error("RadX: $(library_file(choice.build)) (for LLVM $(Base.libllvm_version)) was not found in " *
                                         join(choice.candidates, " or ") * ", and this copy of RadX.jl is not in a RadX checkout to build it; " *
                                         "set ENV[\"RADX_LIB\"] to one built elsewhere")
    @info "RadX: building $(library_file(choice.build)) for LLVM $(Base.libllvm_version) (once)"
    return build_libradx(; io=stderr)
end

const SYMBOLS = (:radx_abi_version, :radx_llvm_version, :radx_status_name, :radx_differentiate_ex,
                 :radx_differentiate_module, :radx_result_free, :radx_error_free, :radx_rules_new,
                 :radx_rules_add, :radx_rules_count, :radx_rules_free, :radx_version)

"""
    load_libradx() -> String

Loads libradx once and checks it: the ABI version must be $(ABI_VERSION), and the LLVM major
it is built against must be Julia's (`Base.libllvm_version`). Returns the path. Throws an
`ErrorException` saying how to build the library otherwise.
"""
function load_libradx()
    LIB_HANDLE[] == C_NULL || return LIB_PATH[]
    lock(LIB_LOCK) do
        LIB_HANDLE[] == C_NULL || return LIB_PATH[]
        path = libradx_path()
        h = Libdl.dlopen(path, Libdl.RTLD_NOW | Libdl.RTLD_LOCAL)
        syms = Dict{Symbol,Ptr{Cvoid}}()
        for s in SYMBOLS
            syms[s] = Libdl.dlsym(h, s)
        end
        abi = ccall(syms[:radx_abi_version], UInt32, ())
        abi == ABI_VERSION || error("libradx at $path has ABI $abi, RadX.jl needs ABI $(ABI_VERSION); rebuild libradx from the same checkout")
        maj, min, pat = Ref{UInt32}(0), Ref{UInt32}(0), Ref{UInt32}(0)
        ccall(syms[:radx_llvm_version], Cvoid, (Ref{UInt32}, Ref{UInt32}, Ref{UInt32}), maj, min, pat)
        theirs = VersionNumber(maj[], min[], pat[])
        if theirs.major != Base.libllvm_version.major
            row = version_support()
            why = row === nothing ? "" : "\n  Julia $(VERSION.major).$(VERSION.minor): $(row.reason)"
            want = llvm_build(Base.libllvm_version)
            fix = want === nothing ? "" : " (use $(library_file(want)); `Pkg.build(\"RadX\")` builds it)"
            error("libradx at $path is built against LLVM $theirs, but Julia $(VERSION) uses LLVM $(Base.libllvm_version); the LLVM major must match$fix.$why")
        end
        merge!(LIB_SYMS, syms)
        LIB_PATH[] = path
        LIB_HANDLE[] = h
        return path
    end
end

sym(s::Symbol) = (load_libradx(); LIB_SYMS[s])

cstr(p::Ptr{UInt8}) = p == C_NULL ? nothing : unsafe_string(p)

"""
    libradx_llvm_version() -> VersionNumber

The LLVM version libradx is linked against.
"""
function libradx_llvm_version()
    maj, min, pat = Ref{UInt32}(0), Ref{UInt32}(0), Ref{UInt32}(0)
    ccall(sym(:radx_llvm_version), Cvoid, (Ref{UInt32}, Ref{UInt32}, Ref{UInt32}), maj, min, pat)
    return VersionNumber(maj[], min[], pat[])
end

function take_error(status::Int32, err::Ptr{CError})
    diags = Diagnostic[]
    e = err
    while e != C_NULL
        c = unsafe_load(e)
        name = unsafe_string(ccall(sym(:radx_status_name), Ptr{UInt8}, (Int32,), c.code))
        push!(diags, Diagnostic(c.code, name, something(cstr(c.message), ""), cstr(c.func), cstr(c.file),
                                Int(c.line), cstr(c.construct), cstr(c.hint), something(cstr(c.text), "")))
        e = c.next
    end
    err == C_NULL || ccall(sym(:radx_error_free), Cvoid, (Ptr{CError},), err)
    return RadXError(status, diags)
end

const ROLE_NAMES = (:primal, :shadow, :seed, :tape, :return, :return_shadow, :adjoint)
const MODE_NAMES = Dict(MODE_FORWARD => :forward, MODE_REVERSE_PRIMAL => :augmented,
                        MODE_REVERSE_GRADIENT => :reverse, MODE_REVERSE_COMBINED => :combined)

function read_slots(p::Ptr{CSlot}, n)
    out = Slot[]
    for i in 1:n
        s = unsafe_load(p, i)
        push!(out, Slot(ROLE_NAMES[s.role+1], s.arg == NO_ARG ? 0 : Int(s.arg) + 1, Int(s.lane) + 1, unsafe_string(s.llvm_type)))
    end
    return out
end

"""
    Outcome

What a successful libradx request returned: the name of the function asked for, every
generated function with its signature, the tape type (`"opaque pointer"` in split mode),
the new module as bitcode (bitcode door only) and the JSON report.
"""
struct Outcome
    function_name::String
    functions::Vector{GeneratedFunction}
    tape_type::Union{Nothing,String}
    bitcode::Union{Nothing,Vector{UInt8}}
    report::String
end

function take_result(res::Ptr{CResult})
    r = unsafe_load(res)
    fns = GeneratedFunction[]
    for i in 1:r.num_functions
        f = unsafe_load(r.functions, i)
        push!(fns, GeneratedFunction(unsafe_string(f.name), MODE_NAMES[f.mode], unsafe_string(f.llvm_type),
                                     read_slots(f.params, f.num_params), read_slots(f.results, f.num_results)))
    end
    bc = r.bitcode == C_NULL ? nothing : copy(unsafe_wrap(Array, r.bitcode, r.bitcode_len))
    out = Outcome(unsafe_string(r.function_name), fns, cstr(r.tape_type), bc, something(cstr(r.report_json), "{}"))
    ccall(sym(:radx_result_free), Cvoid, (Ptr{CResult},), res)
    return out
end

"""
    Request(function_name, mode; width=1, activities=Int32[], return_activity=0,
            return_primal=false, flags=0)

A libradx request (`radx_request`): `mode` is one of the `MODE_*` values, `activities` one
`ACTIVITY_*` per LLVM parameter of the function.
"""
Base.@kwdef struct Request
    function_name::String
    mode::Int32
    width::Int = 1
    activities::Vector{Int32} = Int32[]
    return_activity::Int32 = ACTIVITY_DEFAULT
    return_primal::Bool = false
    flags::UInt32 = UInt32(0)
end

# Whether the in-process door is worth trying (false after libradx refused Julia's LLVM).
const INPROCESS = Ref{Bool}(true)

"""
    julia_llvm_get_version() -> Ptr{Cvoid}

What proves to libradx's in-process door that a module comes from its own libLLVM: the
address of `LLVMGetVersion` in the libLLVM Julia loaded, or on LLVM 15, which has none,
of `LLVMContextCreate` (compared, never called). `C_NULL` if neither is found.
"""
function julia_llvm_get_version()
    h = Libdl.dlopen(String(Base.libllvm_path()), Libdl.RTLD_NOLOAD; throw_error=false)
    h === nothing && return C_NULL
    name = Base.libllvm_version.major >= 16 ? :LLVMGetVersion : :LLVMContextCreate
    p = Libdl.dlsym(h, name; throw_error=false)
    return p === nothing ? C_NULL : p
end

"""
    differentiate!(mod::LLVM.Module, req::Request; rules=C_NULL) -> (LLVM.Module, Outcome)

Asks libradx for the derivative described by `req`. In process, on `mod` itself, when
Julia's libLLVM is the one libradx links (checked by libradx); otherwise through bitcode,
in which case the returned module is a new one parsed in the current context. Throws a
[`RadXError`](@ref) on failure.
"""
function differentiate!(mod::LLVM.Module, req::Request; rules::Ptr{Cvoid}=C_NULL)
    load_libradx()
    acts = req.activities
    fname = req.function_name
    GC.@preserve fname acts begin
        creq = Ref(CRequest(pointer(fname), req.mode, UInt32(req.width),
                            isempty(acts) ? Ptr{Int32}(C_NULL) : pointer(acts), Csize_t(length(acts)),
                            req.return_activity, req.return_primal,
                            DISK_CACHE[] ? req.flags | FLAG_CACHE : req.flags))
        res = Ref{Ptr{CResult}}(C_NULL)
        err = Ref{Ptr{CError}}(C_NULL)
        getver = julia_llvm_get_version()
        if INPROCESS[] && getver != C_NULL
            st = ccall(sym(:radx_differentiate_module), Int32,
                       (LLVM.API.LLVMModuleRef, Ptr{Cvoid}, Ref{CRequest}, Ptr{Cvoid}, Ref{Ptr{CResult}}, Ref{Ptr{CError}}),
                       mod, getver, creq, rules, res, err)
            st == RADX_OK && return mod, take_result(res[])
            e = take_error(st, err[])
            st == RADX_ERR_LLVM_MISMATCH || throw(e)
            # Another libLLVM: remember, and take the bitcode door from now on.
            @debug "RadX: in-process door refused, using bitcode" exception = e
            INPROCESS[] = false
        end
        bc = convert(Vector{UInt8}, mod)
        st = ccall(sym(:radx_differentiate_ex), Int32,
                   (Ptr{UInt8}, Csize_t, Ref{CRequest}, Ptr{Cvoid}, Ref{Ptr{CResult}}, Ref{Ptr{CError}}),
                   bc, length(bc), creq, rules, res, err)
        st == RADX_OK || throw(take_error(st, err[]))
        out = take_result(res[])
        newmod = parse(LLVM.Module, out.bitcode)
        return newmod, out
    end
end

"""
    RuleRegistry()

A libradx registry of custom rules (`radx_rules`), freed by the garbage collector.
"""
mutable struct RuleRegistry
    ptr::Ptr{Cvoid}
    function RuleRegistry()
        r = new(ccall(sym(:radx_rules_new), Ptr{Cvoid}, ()))
        r.ptr == C_NULL && throw(OutOfMemoryError())
        finalizer(r) do x
            x.ptr == C_NULL || ccall(sym(:radx_rules_free), Cvoid, (Ptr{Cvoid},), x.ptr)
            x.ptr = C_NULL
        end
        return r
    end
end

"""
    add_rule!(reg::RuleRegistry, function_name; activities=Int32[], return_activity=0,
              width=1, forward=nothing, augmented=nothing, reverse=nothing)

Registers a rule (`radx_rules_add`): the named implementations live in the module that
will be differentiated. Throws a [`RadXError`](@ref) for a malformed rule.
"""
function add_rule!(reg::RuleRegistry, function_name::String; activities::Vector{Int32}=Int32[],
                   return_activity::Int32=ACTIVITY_DEFAULT, width::Int=1,
                   forward::Union{Nothing,String}=nothing, augmented::Union{Nothing,String}=nothing,
                   reverse::Union{Nothing,String}=nothing)
    p(s) = s === nothing ? Ptr{UInt8}(C_NULL) : pointer(s)
    GC.@preserve function_name activities forward augmented reverse begin
        rule = Ref(CRule(pointer(function_name), isempty(activities) ? Ptr{Int32}(C_NULL) : pointer(activities),
                         Csize_t(length(activities)), return_activity, UInt32(width), p(forward), p(augmented), p(reverse)))
        err = Ref{Ptr{CError}}(C_NULL)
        st = ccall(sym(:radx_rules_add), Int32, (Ptr{Cvoid}, Ref{CRule}, Ref{Ptr{CError}}), reg.ptr, rule, err)
        st == RADX_OK || throw(take_error(st, err[]))
    end
    return reg
end
