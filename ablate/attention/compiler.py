"""torch.compile without its misleading start-up notice on a machine with a CUDA toolkit but no GPU.

Inductor's CPU code generation imports torch.utils.cpp_extension, which on first import looks for a CUDA
toolkit and, finding nvcc but no GPU, logs "No CUDA runtime is found, using CUDA_HOME=...": a warning about
CUDA extensions that ablate never builds, printed in the middle of a CPU benchmark or run. A filter on that
logger drops exactly this record; everything else it logs still shows. Torch-free: the logger exists before
torch does.
"""
import logging

_NOTICE = "No CUDA runtime is found"


class _DropCudaHomeNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_NOTICE)


_filter = _DropCudaHomeNotice()


def quiet_cuda_probe() -> None:
    """Drop cpp_extension's no-CUDA-runtime notice (idempotent); call before the first torch.compile."""
    logging.getLogger("torch.utils.cpp_extension").addFilter(_filter)
