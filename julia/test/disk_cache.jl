# The persistent derivative cache through RadX.jl: a compilation after `reset_caches!()`
# (what a new session sees) gives the same derivative, and the cache directory holds the
# entries. Whether it was a hit depends on the module's bitcode being the same: modules
# that embed this session's object addresses make new keys (see docs/julia.md).

cache_f(x) = x^3 * exp(-x)
dcache_f(x) = (3x^2 - x^3) * exp(-x)

let dir = mktempdir(), saved = get(ENV, "RADX_CACHE_DIR", nothing)
    ENV["RADX_CACHE_DIR"] = dir
    try
        RadX.reset_caches!()
        @test autodiff(Reverse, cache_f, Active, Active(0.7))[1][1] ≈ dcache_f(0.7)
        entries = filter(endswith(".radx"), readdir(dir))
        @test !isempty(entries)
        RadX.reset_caches!()
        @test autodiff(Reverse, cache_f, Active, Active(1.3))[1][1] ≈ dcache_f(1.3)
        @test filter(endswith(".radx"), readdir(dir)) ⊇ entries
        set_disk_cache!(false)
        RadX.reset_caches!()
        n = length(readdir(dir))
        @test autodiff(Forward, cache_f, Duplicated(0.4, 1.0))[1] ≈ dcache_f(0.4)
        @test length(readdir(dir)) == n
    finally
        set_disk_cache!(true)
        saved === nothing ? delete!(ENV, "RADX_CACHE_DIR") : (ENV["RADX_CACHE_DIR"] = saved)
        RadX.reset_caches!()
    end
end
