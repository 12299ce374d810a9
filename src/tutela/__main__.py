from tutela.cli import main

main()
