"""One sub-package per suite, each declaring ``SUITE = Suite(name, context_factory, checks=(...))``
(harness/registry.py). Their names in run order and their packages are listed in
harness/suite_names.py, which the config and the check model read without loading a suite.
"""
