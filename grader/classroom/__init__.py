"""Classroom tools: CI-ready reports, class releases, grading at a git ref, batch grading.

- files.py    writing reports and gradebooks atomically (temp file + rename)
- gitref.py   the exercises as they stand at a git ref (``grade --ref REF``)
- release.py  ``grade release OUT``: a class repository with a ``solutions`` branch
- compare.py  ``grade compare EXERCISE --ref solutions``: learner vs ref, side by side
- batch.py    ``grade batch DIR``: a gradebook for a whole class, resumable and sharded
- merge.py    ``grade merge``: join the gradebooks of shards
- commands.py the click commands (registered on ``grade`` by grader/cli.py)
"""
