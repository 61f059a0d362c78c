"""Classical cost of reproducing a point: tensor networks and their contraction cost, the effective region,
Pauli propagation, belief propagation, and the methods a point lists."""
