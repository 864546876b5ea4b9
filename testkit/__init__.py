"""Test helpers shared by the test suite and the benchmarks: the fake Bot API server, starting
the real bot process against it, and the repository paths they use. Not shipped with the bot."""
