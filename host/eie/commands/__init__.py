"""Sub-commands of the ``eie`` CLI; see eie.cli."""
