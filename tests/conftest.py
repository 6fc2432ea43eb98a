import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Runs saved by pages and sessions during the tests go to a throw-away folder, never ./runs.
os.environ.setdefault("RESNORM_RUNS_DIR", tempfile.mkdtemp(prefix="resnorm-test-runs-"))
# In-process tests train in threads (fast to start); tests/test_live.py covers worker processes and
# the browser test runs the server as deployed, with processes.
os.environ.setdefault("RESNORM_WORKERS", "thread")

import torch  # noqa: E402

# Tiny models: one intra-op thread is as fast, and immune to a busy machine's thread contention
# (the trainer does the same by default, see resnorm.trainer.cpu_threads).
torch.set_num_threads(1)
