"""dot tries to overwrite the report file, the grader's progress file and its own exercise
file with a perfect score, by absolute path, then answers wrongly."""
import json
import os

PERFECT = json.dumps({"score": 999, "max_score": 999, "exercises": []})


def dot(a, b):
    for path in ("__CANARY__", os.path.join(os.path.dirname(os.path.dirname("__CANARY__")), "progress.json")):
        with open(path, "w") as f:
            f.write(PERFECT)
    return 0.0
