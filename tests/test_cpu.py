"""CPU detection: native bfloat16 from /proc/cpuinfo text (no Keras)."""

from kser.cpu import cpu_info
from kser.cpu import parse_cpuinfo

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx f16c fma avx2 bmi2 sha_ni vaes
processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx f16c fma avx2 bmi2 sha_ni vaes
"""

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu avx2 avx512f avx512bw avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""

COOPER_LAKE = """model name\t: Intel(R) Xeon(R) Platinum 8380HL
flags\t\t: avx2 avx512f avx512_vnni avx512_bf16
"""


def test_avx2_only_cpu_has_no_native_bfloat16():
    info = parse_cpuinfo(EPYC)
    assert info.model == "AMD EPYC 7B13"
    assert "avx2" in info.flags
    assert info.native_bfloat16 is False
    assert info.bfloat16_flags == ()
    assert info.to_dict() == {
        "model": "AMD EPYC 7B13", "native_bfloat16": False, "bfloat16_flags": [],
    }


def test_amx_and_avx512_bf16_are_native():
    amx = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert amx.model.startswith("Intel(R) Xeon(R) Platinum 8481C")
    assert amx.native_bfloat16 is True
    assert amx.bfloat16_flags == ("avx512_bf16", "amx_bf16", "amx_tile")
    avx512 = parse_cpuinfo(COOPER_LAKE)
    assert avx512.native_bfloat16 is True
    assert avx512.bfloat16_flags == ("avx512_bf16",)


def test_unknown_flags_and_missing_file(tmp_path):
    info = parse_cpuinfo("processor\t: 0\nmodel name\t: Some CPU\n")
    assert info.model == "Some CPU"
    assert info.flags is None and info.native_bfloat16 is None
    assert parse_cpuinfo("").model == "unknown"
    missing = cpu_info(str(tmp_path / "nope"))
    assert missing.flags is None and missing.native_bfloat16 is None
    assert missing.model  # platform's name, or "unknown"
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS)
    assert cpu_info(str(path)).native_bfloat16 is True


def test_this_machine_reads_without_error():
    info = cpu_info()
    assert isinstance(info.to_dict()["bfloat16_flags"], list)
