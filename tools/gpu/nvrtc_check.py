#!/usr/bin/env python3
"""Compiles a tensor-core (WMMA) kernel with NVRTC the way CubeCL does, to check that a
CUDA include folder is complete before a GPU window spends minutes on autotuning.

Why: in the 2026-11-28 window, PyTorch's CUDA 13 wheels (site-packages/nvidia/cu13) had
`mma.h` but not the `crt/` folder it includes, so NVRTC failed on every tensor-core
matmul and convolution kernel; CubeCL's autotuner quietly fell back to the slowest
kernels (the convolution weight gradient as a plain direct convolution: ~320 of the
step's ~470 ms). The `crt/` headers come in the `nvidia-cuda-crt` wheel.

    python3 tools/gpu/nvrtc_check.py --include CUDA_PATH/include [--lib DIR] [--arch sm_90a]

Exit status 0 when the kernel compiles to PTX; 1 with NVRTC's log when it does not.
No GPU is needed (NVRTC only compiles), so this runs here and on the device machine.
"""
import argparse
import ctypes
import os
import sys

SOURCE = r"""
#include <cuda_runtime.h>
#include <mma.h>
using namespace nvcuda;
extern "C" __global__ void wmma_tf32(const float* a, const float* b, float* c) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
    wmma::fill_fragment(fc, 0.0f);
    wmma::load_matrix_sync(fa, a, 8);
    wmma::load_matrix_sync(fb, b, 8);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--include", required=True, help="the include folder CubeCL passes (CUDA_PATH/include)")
    ap.add_argument("--lib", default=None, help="folder holding libnvrtc.so.13 (default: the loader's path)")
    ap.add_argument("--arch", default="sm_90a", help="CubeCL uses sm_XXa on compute capability ≥ 9.0")
    ap.add_argument("--source", default=None, help="compile this file instead of the built-in WMMA kernel")
    args = ap.parse_args()

    name = "libnvrtc.so.13"
    if args.lib:
        # NVRTC opens its builtins library by name at compile time: load it first.
        for entry in sorted(os.listdir(args.lib)):
            if entry.startswith("libnvrtc-builtins.so"):
                ctypes.CDLL(os.path.join(args.lib, entry), mode=ctypes.RTLD_GLOBAL)
    try:
        lib = ctypes.CDLL(os.path.join(args.lib, name) if args.lib else name)
    except OSError as err:
        print(f"nvrtc_check: cannot load {name}: {err}")
        return 1
    source = open(args.source).read() if args.source else SOURCE
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), None, 0, None, None) != 0:
        print("nvrtc_check: nvrtcCreateProgram failed")
        return 1
    opts = [f"--gpu-architecture={args.arch}".encode(), f"--include-path={args.include}".encode(), b"-lineinfo"]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    if rc != 0:
        print(f"nvrtc_check: FAILED (nvrtc status {rc}) with --include-path={args.include}")
        print(log.value.decode(errors="replace")[:2000])
        return 1
    ptx = ctypes.c_size_t()
    lib.nvrtcGetPTXSize(prog, ctypes.byref(ptx))
    print(f"nvrtc_check: ok, tensor-core kernel compiles ({ptx.value} bytes of PTX, {args.arch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
