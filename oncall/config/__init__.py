"""Settings: ``config.yaml`` read into frozen, typed settings; the YAML source that keeps line
numbers for every error; files reloaded when they change (``config.yaml`` itself included, in
``live``); logging set-up.

May import ``oncall.domain`` (the types settings are made of) and nothing else of ours.
"""
