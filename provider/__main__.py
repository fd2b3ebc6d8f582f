"""Entry point of the meshlink package when the Python language host runs this plugin."""

from meshlink.plugin import main

main()
