"""Public name of :mod:`echo_lab.dynamics.trotter`: ``from echo_lab import trotter`` is that module.

The documented entry point (``from echo_lab import models, lbits, trotter``) predates the layer
sub-packages; this alias keeps it working and is the same module object, not a copy.
"""

import sys

from echo_lab.dynamics import trotter

sys.modules[__name__] = trotter
