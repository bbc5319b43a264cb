"""Reports of a run folder, each module answering one question.

``run`` (what a folder holds, read once), ``sources`` (where clean videos, class names and checkpoint
metadata come from), ``text`` (numbers as text), ``elements`` (tables, images, examples), ``tables``
(per cell, the paper's), ``defence_tables``, ``analyses`` (the studies' sections), ``plots``,
``figures`` / ``strips`` / ``study_figures`` (drawing), ``examples`` (strips and side-by-side videos),
``render`` (Markdown, HTML from ``templates/``), ``console`` (terminal tables), ``write``
(``write_report``, the entry point).
"""
