from app.models.llamacpp import cpu_has_amx

SAPPHIRE_RAPIDS = (
    "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8\n"
)
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16\n"


def test_amx_is_read_from_the_cpu_flags() -> None:
    assert cpu_has_amx(SAPPHIRE_RAPIDS)
    assert not cpu_has_amx(ZEN4)
    assert not cpu_has_amx("")
    # A model name that mentions AMX is not a flag.
    assert not cpu_has_amx("model name\t: amx_int8 lookalike\nflags\t\t: fpu sse\n")
