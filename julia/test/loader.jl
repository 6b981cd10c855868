# The loader's choice of libradx (src/versions.jl), for mimicked Julia and LLVM versions.
# julia/test/loader_choice.py applies the same rule to the same table without Julia.

@testset "choice of libradx" begin
    mktempdir() do tmp
        dirs = [joinpath(tmp, "deps", "lib"), joinpath(tmp, "target", "lib")]
        foreach(mkpath, dirs)
        c = RadX.choose_library(v"16.0.6"; julia=v"1.11.2", env=Dict{String,String}(), dirs)
        @test c.build.major == 16 && c.found === nothing
        @test c.candidates == [joinpath(d, "libradx-llvm16." * RadX.Libdl.dlext) for d in dirs]
        touch(c.candidates[2])
        @test RadX.choose_library(v"16.0.6"; julia=v"1.11.2", env=Dict{String,String}(), dirs).found == c.candidates[2]
        touch(c.candidates[1])
        @test RadX.choose_library(v"16.0.6"; julia=v"1.11.2", env=Dict{String,String}(), dirs).found == c.candidates[1]
        @test RadX.choose_library(v"16.0.6"; julia=v"1.11.2", env=Dict("RADX_LIB" => "/x/libradx.so"), dirs).candidates == ["/x/libradx.so"]
        @test RadX.choose_library(v"19.1.7"; julia=v"1.14.0-DEV", env=Dict{String,String}(), dirs).build.library == "libradx-llvm19"
        for (llvm, jl, says) in ((v"15.0.7", v"1.10.4", "typed pointers"), (v"18.1.7", v"1.12.0", "LLVM 18"), (v"20.1.2", v"1.13.0", "LLVM 20"))
            err = try
                RadX.choose_library(llvm; julia=jl, env=Dict{String,String}(), dirs)
                nothing
            catch e
                e
            end
            @test err isa ErrorException
            @test occursin(says, err.msg) && occursin("supports Julia 1.11 (LLVM 16)", err.msg)
        end
    end
    @test [b.major for b in RadX.LLVM_BUILDS] == [15, 16, 19]
    @test RadX.version_support(v"1.10.4").status === :unsupported
    @test RadX.version_support(v"1.11.2").llvm.major == 16
    @test RadX.version_support(v"1.12.0").status === :unsupported
end
