"""Optional compute backends for the paper dynamics (numpy is the default and needs nothing here).

``torch``: :mod:`igmm.backends.torch_backend`, CPU or CUDA, imported lazily;
install with ``pip install "interacting-gmm[torch]"`` or ``pip install torch``.
"""

BACKENDS = ("numpy", "torch")
