"""``python -m igmm``: the igmm command."""

from igmm.cli import main

main()
