"""The ``turbojwt`` command's subcommands, one module each: ``demo``, ``verify_logs``
(``verify-logs``), ``bench``, ``serve``, ``policy`` and ``revoke``.

Each module exposes ``add_parser(subparsers)``, which registers the command and sets
``func`` (``args -> exit status``) as a default, and imports anything heavy inside that
``func`` so that ``--help`` stays fast. ``turbojwt.__main__`` builds the parser from the
modules it lists in ``SUBCOMMAND_MODULES``. Nothing in the library imports this package.
"""
