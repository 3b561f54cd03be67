"""The language-model system: transcripts, flower labelling, comparison, live runs, embedder.

Importing this package is light: httpx, torch and sentence-transformers load
only inside the functions that need them.
"""

from igmm.llm.flowers import FLOWERS, N_LABELS, UNLABELED, label_answer, label_answers

__all__ = ["FLOWERS", "N_LABELS", "UNLABELED", "label_answer", "label_answers"]
