"""oncall: a paging service for a software vendor's critical support line."""

__version__ = "0.1.0"
