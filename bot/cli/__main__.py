"""`python -m bot.cli`: the same as `prakat`."""

from bot.cli import main

main()
