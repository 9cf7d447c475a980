# Per-ISA compile flags. Code built with these flags lives only in kernels/cpu/<isa>/ and in
# its own namespace (sarathi::kernels::<isa>), so nothing ISA-specific leaks into baseline code.
set(SARATHI_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(SARATHI_ISA_FLAGS_avx512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16
    -mavx512vnni -mfma -mf16c -mavx2)
set(SARATHI_ISA_FLAGS_amx ${SARATHI_ISA_FLAGS_avx512} -mamx-tile -mamx-int8 -mamx-bf16)
