from solvyd.cli.main import main

main()
