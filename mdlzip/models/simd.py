"""One integer dot product for the exact kernels, in the CPU's 16-bit multiply-add where it has one.

The attention's weighted sums (exact_numba._weighted_values) multiply integer weights a <= 2^20 by
int8 value codes and sum them in int64: LLVM vectorizes that as 64-bit multiplies, 4 per 256-bit
operation. Split as a = 1024 * hi + lo (hi <= 1024, lo < 1024), both halves fit int16, and x86's
`pmaddwd` (AVX2) multiplies 16 such pairs and adds them pairwise into 32-bit sums in one
operation: the same integers, 4x the products per operation (the level-9 decoder spent most of
its attention there). numba cannot ask for that instruction, so `weighted_sum16` writes the loop
in LLVM IR; where the target is not known to have AVX2 it writes the same loop with plain 32-bit
vector multiplies, which any LLVM backend compiles. Both give the exact sum.
"""
from __future__ import annotations

import platform

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

LANES = 16  # int16 products per multiply-add (one 256-bit register)
HI_SHIFT = 10  # a = (hi << HI_SHIFT) + lo


def _has_avx2() -> bool:
    """Whether numba compiles for a CPU with AVX2: this machine's, unless NUMBA_CPU_NAME or
    NUMBA_CPU_FEATURES name another target (a cache built for other machines)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or config.CPU_NAME or config.CPU_FEATURES:
        return False
    return bool(binding.get_host_cpu_features().get("avx2"))


AVX2 = _has_avx2()
_I8, _I16, _I32, _I64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)


def _weighted_sum_ir(use_avx2: bool):
    """The intrinsic `(hi, lo, v, n) -> sum_{j < m} ((hi[j] << HI_SHIFT) + lo[j]) * v[j]` (int64),
    m = n rounded down to a multiple of LANES: hi and lo int16 arrays with hi <= 1024 and
    0 <= lo < 1024, v an int8 array, each holding at least m items; the caller adds the last n - m.
    The 32-bit partial sums stay exact for n <= 8192, the longest block (each lane adds n/16 pairs
    of products below 2^18: below 2^27, and all lanes together below 2^31)."""

    @intrinsic
    def weighted_sum16(typingctx, hi, lo, v, n):
        def codegen(context, builder, signature, args):
            hi_data, lo_data, v_data = (context.make_array(ty)(context, builder, arr).data
                                        for ty, arr in zip(signature.args[:3], args[:3]))
            v8, v16 = ir.VectorType(_I8, LANES), ir.VectorType(_I16, LANES)
            acc_ty = ir.VectorType(_I32, LANES // 2 if use_avx2 else LANES)
            if use_avx2:
                madd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(acc_ty, [v16, v16]),
                                                      "llvm.x86.avx2.pmadd.wd")
                products = lambda a, x: builder.call(madd, [a, x])
            else:
                products = lambda a, x: builder.mul(builder.sext(a, acc_ty), builder.sext(x, acc_ty))
            acc_hi = cgutils.alloca_once_value(builder, ir.Constant(acc_ty, None))
            acc_lo = cgutils.alloca_once_value(builder, ir.Constant(acc_ty, None))
            with cgutils.for_range(builder, builder.sdiv(args[3], ir.Constant(_I64, LANES))) as loop:
                j = builder.mul(loop.index, ir.Constant(_I64, LANES))
                load = lambda data, ty: builder.load(builder.bitcast(builder.gep(data, [j]), ty.as_pointer()), align=1)
                x = builder.sext(load(v_data, v8), v16)
                for acc, data in ((acc_hi, hi_data), (acc_lo, lo_data)):
                    builder.store(builder.add(builder.load(acc), products(load(data, v16), x)), acc)

            reduce_add = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I32, [acc_ty]),
                                                        f"llvm.vector.reduce.add.v{acc_ty.count}i32")

            def total(acc):  # the lanes' sum fits int32 too (above)
                return builder.sext(builder.call(reduce_add, [builder.load(acc)]), _I64)

            return builder.add(builder.shl(total(acc_hi), ir.Constant(_I64, HI_SHIFT)), total(acc_lo))

        return types.int64(hi, lo, v, n), codegen

    return weighted_sum16


weighted_sum16 = _weighted_sum_ir(AVX2)  # what the kernels call
weighted_sum16_generic = _weighted_sum_ir(False)  # the portable loop (tests compare both where AVX2 runs)
