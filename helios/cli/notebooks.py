"""The notebooks (``notebooks/*.ipynb``) run headless: parameters in, executed notebook, HTML out.

``helios report daily|weekly --html PATH`` and the tests use it. Jupyter's packages (nbformat,
nbclient, nbconvert, jupyter_client) are imported inside the functions only, so ``import
helios`` and every other command never load them.

The rules:

- a notebook's parameters are its cell tagged ``parameters`` (papermill's convention); the values
  given are written as Python literals into a new cell right after it, tagged
  ``injected-parameters``, so the notebook's defaults stay as they are and the run's values win;
- the kernel is this very Python (``sys.executable``, with this environment's packages, ipykernel
  among them) through a kernelspec written to a temporary folder: nothing is registered in the
  user's or the system's Jupyter, and a ``python3`` kernel installed elsewhere is never picked;
- the kernel runs in ``cwd`` (default: the current directory) with this process's environment,
  so ``helios.connect()`` in the notebook opens the database this process would (``DATABASE_URL``
  or ``.env``); the database URL is never written into the notebook;
- a cell that raises stops the run: ``NotebookFailed`` names the notebook and carries the error.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helios.config.paths import PROJECT_ROOT
from helios.errors import HeliosError

NOTEBOOKS = PROJECT_ROOT / "notebooks"
REPORTS = {"daily": "daily_check.ipynb", "weekly": "weekly_review.ipynb"}
KERNEL = "helios-python"
CELL_TIMEOUT_SECONDS = 300
KERNEL_STARTUP_SECONDS = 300  # how long a kernel may take to start


class NotebookFailed(HeliosError):
    """A notebook's cell raised (or timed out) while it ran."""


def notebook_path(name: str) -> Path:
    """``notebooks/<name>`` of the project (``name`` with or without ``.ipynb``)."""
    file = name if name.endswith(".ipynb") else f"{name}.ipynb"
    return NOTEBOOKS / file


def with_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """``nb`` with ``parameters`` injected after its ``parameters`` cell (see the module)."""
    import nbformat

    cells = nb.cells
    at = next(
        (i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])),
        None,
    )
    if at is None:
        raise NotebookFailed("the notebook has no cell tagged 'parameters'")
    cells[:] = [c for c in cells if "injected-parameters" not in c.metadata.get("tags", [])]
    source = "# Parameters of this run\n" + "".join(
        f"{key} = {value!r}\n" for key, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cells.insert(at + 1, cell)
    return nb


def execute(
    path: Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    timeout: int = CELL_TIMEOUT_SECONDS,
) -> Any:
    """Run the notebook at ``path`` with ``parameters`` and return it with its outputs."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = with_parameters(nbformat.read(path, as_version=4), parameters or {})
    with tempfile.TemporaryDirectory(prefix="helios-kernel-") as kernels:
        spec = Path(kernels) / KERNEL
        spec.mkdir()
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Helios (this Python)",
                    "language": "python",
                }
            )
        )
        client = NotebookClient(
            nb,
            kernel_name=KERNEL,
            kernel_manager_class=_manager_class(kernels),
            timeout=timeout,
            # a kernel on a busy machine can take over nbclient's 60 s to answer (seen with a
            # sweep's processes beside it): waiting longer costs nothing when it is quick
            startup_timeout=KERNEL_STARTUP_SECONDS,
            resources={"metadata": {"path": str(cwd or Path.cwd())}},
        )
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            raise NotebookFailed(f"{path.name}: {exc}") from exc
    return nb


def _manager_class(kernels: str) -> type:
    """nbclient's kernel manager, finding kernels only in ``kernels`` (this Python's spec) and
    talking to the kernel over local sockets (IPC: no TCP port, nothing on the network)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class Manager(AsyncKernelManager):  # type: ignore[misc]
        @default("kernel_spec_manager")
        def _only_ours(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[kernels])

        @default("transport")
        def _local(self) -> str:
            return "ipc"

        @default("ip")
        def _sockets_here(self) -> str:
            # the IPC sockets in this run's own folder: two notebooks run at once (two test
            # workers, two reports) would otherwise pick the same kernel-ipc-N files in the
            # current directory and read each other's messages ("Invalid Signature")
            return str(Path(kernels) / "kernel-ipc")

    return Manager


def to_html(nb: Any, *, inputs: bool = False) -> str:
    """The executed notebook as one HTML page; ``inputs`` False leaves the code out (a report
    reads better as its tables, text and charts)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=not inputs, exclude_input_prompt=not inputs)
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    return str(body)


def error_outputs(nb: Any) -> list[str]:
    """The errors in an executed notebook's outputs (``ename: evalue`` each): none when it ran
    through."""
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
