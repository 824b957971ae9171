"""One sub-package per suite, all made from one template (harness/registry.py): an ``__init__``
that imports nothing, ``context.py`` (the context and its factory), the check modules and
``suite.py`` declaring ``SUITE = Suite[XContext](name, make_context, checks=(...), state={...})``.
Their names in run order and their declaration modules are listed in harness/suite_names.py,
which the config and the registry read without loading a suite.
"""
