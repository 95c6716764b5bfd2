from bugtrail.cli.app import main

main()
