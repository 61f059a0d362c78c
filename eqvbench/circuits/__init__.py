"""Circuits and what acts on them: qubit lattices, the compiled instruction list, the noise model, light cones."""
