# Sourced by the benchmarks that run a Python PyTorch twin beside `loupe`: `loupe` re-executes itself
# with OPENBLAS_CORETYPE set when OpenBLAS does not know the CPU model and fell back to its SSE3 kernels
# (README, "BLAS kernels"); the Python side gets the same kernels, so the ratio compares like with like.
# Needs $loupe (or $LOUPE) to name the built executable.
if [ -z "${OPENBLAS_CORETYPE+set}" ]; then
    core=$("${loupe:-$LOUPE}" selfcheck --threads 1 2>/dev/null | sed -n 's/^BLAS: OpenBLAS, \(.*\) kernels$/\1/p')
    if [ -n "$core" ]; then export OPENBLAS_CORETYPE=$core; fi
fi
echo "OpenBLAS kernels: ${OPENBLAS_CORETYPE:-as OpenBLAS chose}" >&2
