"""Public name of :mod:`echo_lab.physics.models`: ``from echo_lab import models`` is that module.

The documented entry point (``from echo_lab import models, lbits, trotter``) predates the layer
sub-packages; this alias keeps it working and is the same module object, not a copy.
"""

import sys

from echo_lab.physics import models

sys.modules[__name__] = models
