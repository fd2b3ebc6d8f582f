"""Run meshlink's Pulumi programs with no engine and no cloud: tests, render, rehearse."""
