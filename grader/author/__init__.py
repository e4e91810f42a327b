"""Tools for course authors: one source for the stubs, new exercises, courses outside the package.

- :mod:`grader.author.markers`: a solution module marks each answer between
  ``### BEGIN SOLUTION: <message>`` and ``### END SOLUTION``; the stub is the same module
  with each marked region replaced by ``raise NotImplementedError("<message>")``.
- :mod:`grader.author.build`: ``grade author build [--check]`` writes ``exercises/`` from
  ``solutions/`` (of the packaged course, or of ``--course DIR``).
- :mod:`grader.author.new`: ``grade new EXERCISE`` scaffolds a solution with markers, its
  built stub, a checks module and the course entry.
- :mod:`grader.author.commands`: the click commands.

The public API for writing checks is :mod:`grader.authoring`.
"""
