"""eqvbench: effective quantum volume, fidelity and classical cost of noisy circuits.

Follows Kechedzhi et al., arXiv:2306.15970. Heavy dependencies (numpy, cirq,
quimb, cotengra) are imported by the stage modules, not here, so that the CLI
starts fast.
"""

__version__ = "0.1.0"
