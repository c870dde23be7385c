"""MMVQShape: interpretable multimodal activity recognition from wrist accelerometers.

VQShape shape tokens per accelerometer channel, plus language sub-actions from an action
codebook, learned so that the signal alone explains a window in shapes and words.
"""

import os as _os

# OpenMP threads that spin while waiting make small models 5-30x slower as soon as another
# process competes for the cores (a laptop, CI, several jobs). Passive waiting costs nothing
# when the machine is idle. Set before torch loads its OpenMP runtime; a user's value wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
