// A small example for `experiment: circuit` (eqvbench/configs/circuit_example.yaml): six qubits in a
// line, three rounds of single-qubit rotations and two-qubit gates (CZ, CNOT, RZZ) in a brickwork.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[6];
creg c[6];

// round 1
ry(0.35) q[0];
ry(0.50) q[1];
rx(0.25) q[2];
ry(0.40) q[3];
rx(0.30) q[4];
ry(0.45) q[5];
cz q[0],q[1];
cx q[2],q[3];
rzz(pi/4) q[4],q[5];
cz q[1],q[2];
rzz(pi/4) q[3],q[4];
barrier q;

// round 2
rx(0.30) q[0];
ry(0.20) q[1];
ry(0.55) q[2];
rx(0.35) q[3];
ry(0.25) q[4];
rx(0.40) q[5];
rzz(pi/4) q[0],q[1];
cz q[2],q[3];
cx q[4],q[5];
cx q[1],q[2];
cz q[3],q[4];
barrier q;

// round 3
u3(0.30,0.10,-0.20) q[0];
ry(0.45) q[1];
rx(0.20) q[2];
ry(0.30) q[3];
h q[4];
ry(0.35) q[5];
cz q[0],q[1];
rzz(pi/4) q[2],q[3];
cz q[4],q[5];

measure q -> c;
