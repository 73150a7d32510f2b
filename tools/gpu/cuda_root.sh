# Sourced by window.sh and more.sh: sets CUDA_PATH and LD_LIBRARY_PATH for the CUDA
# binary from the folder of PyTorch's CUDA 13 wheels (site-packages/nvidia/cu13, or $NV
# when set, e.g. to test here with unpacked wheels), then checks with NVRTC that a
# tensor-core kernel compiles.
#
#   . tools/gpu/cuda_root.sh LOG_FILE
#
# Needs .gpu/nvidia_cuda_crt-*.whl when NV/include lacks crt/ (tools/gpu/prepare.sh
# downloads it).
NV=${NV:-$(python3 -c "import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],'cu13'))")}
# CubeCL hands NVRTC CUDA_PATH/include. PyTorch's wheels have mma.h but not the crt/
# folder it includes: without crt/ every tensor-core kernel fails to compile and the
# autotuner falls back to the slowest kernels (window of 2026-11-28). So CUDA_PATH is a
# folder of links to the wheels' headers plus crt/ from the carried nvidia-cuda-crt wheel.
CUDA_ROOT=/tmp/cuda-root
rm -rf "$CUDA_ROOT" && mkdir -p "$CUDA_ROOT/include"
for e in "$NV"/include/*; do ln -s "$e" "$CUDA_ROOT/include/"; done
if [ ! -f "$NV/include/crt/mma.h" ]; then
  python3 - "$CUDA_ROOT/include" .gpu/nvidia_cuda_crt-*.whl <<'PY' 2>&1 | tee -a "$1"
import os, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2:]
n = 0
for w in wheels:
    with zipfile.ZipFile(w) as z:
        for m in z.namelist():
            if "/include/crt/" in m and not m.endswith("/"):
                out = os.path.join(dest, "crt", m.split("/include/crt/", 1)[1])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                open(out, "wb").write(z.read(m))
                n += 1
print(f"crt headers: {n} files from {', '.join(os.path.basename(w) for w in wheels)}")
PY
fi
export CUDA_PATH=$CUDA_ROOT LD_LIBRARY_PATH=$NV/lib:${LD_LIBRARY_PATH:-}
python3 tools/gpu/nvrtc_check.py --include "$CUDA_PATH/include" --lib "$NV/lib" 2>&1 | tee -a "$1"
