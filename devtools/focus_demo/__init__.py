"""The end-to-end demo: the emulator, a generated export history, and the DAGs run on each delivery."""
