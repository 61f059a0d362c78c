from eqvbench.cli import main

main()
