"""MMVQShape: interpretable multimodal activity recognition from wrist accelerometers.

VQShape shape tokens per accelerometer channel, plus language sub-actions from an action
codebook, learned so that the signal alone explains a window in shapes and words.
"""

import os as _os
import sys as _sys

# OpenMP threads that spin while waiting make small models 5-30x slower as soon as another
# process competes for the cores (a laptop, CI, several jobs). Passive waiting costs nothing
# when the machine is idle. Set before torch loads its OpenMP runtime; a user's value wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# numba (under umap-learn and aeon's MiniRocket) would otherwise run its parallel regions on
# the OpenMP runtime torch loaded, and the first time it starts its threads it switches nested
# parallelism on there (omp_set_nested(1)) for the rest of the process. Every nested OpenMP
# region inside torch's training steps then creates and destroys its threads (issue 19: an
# MMVQShape epoch after a UMAP projection took 75 s instead of 12 s, 66 s of it system time,
# with ~110 threads started per step in AdamW and VQShape's forward here). numba's own
# "workqueue" pool leaves torch's runtime alone; our numba calls are seeded and single-threaded
# anyway. numba reads this when it is imported and uses it when it first starts threads, so a
# numba imported before this package is told too. A user's value wins.
_os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
if "numba.core.config" in _sys.modules:
    _sys.modules["numba.core.config"].THREADING_LAYER = _os.environ["NUMBA_THREADING_LAYER"]

__version__ = "0.1.0"
