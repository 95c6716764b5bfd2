from bugtrail.cli.entry import main

main()
