"""Echo protocols: pulse families, pulse sequences of an echo, and what is read out.

* :mod:`.families` the registry of pulse families (``pbit``, ``lbit``, ``lbit:r``, ``window:w``,
  ``circuit``) and :func:`~.families.make_pulse`;
* :mod:`.sequences` the echo sequences (FID, Hahn, CPMG, DEER) as pulse sequences;
* :mod:`.observables` the operators a backend reads out on the probe site.

``from echo_lab import protocols`` gives the sequence factories (``protocols.hahn_echo`` ...).
"""

from echo_lab.protocols.sequences import *  # noqa: F403
from echo_lab.protocols.sequences import __all__  # noqa: F401
