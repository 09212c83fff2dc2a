"""`python -m pigeon`: the `pigeon` command."""

from pigeon.cli import main

main()
