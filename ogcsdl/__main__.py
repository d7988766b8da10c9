from ogcsdl.cli import main

main()
